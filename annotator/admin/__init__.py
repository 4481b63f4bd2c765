"""The admin. Status and answers change only through the services (the rules), so the admin
shows them read-only and offers review actions that call `question_review`.

Django's autodiscover imports this package; importing its modules registers their models:

- `videos`: videos (uploaded through `uploads`) and their imports;
- `questions`: questions (exported through `export`), templates, answers, votes, viewings and
  status changes;
- `training`: the model in the loop, its runs, versions and predictions;
- `annotators`: annotators and their quality.

`base` holds what several registrations share.
"""

from annotator.admin import annotators, questions, training, videos

__all__ = ["annotators", "questions", "training", "videos"]
