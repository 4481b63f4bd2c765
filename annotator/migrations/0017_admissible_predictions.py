"""Predictions stored before suggestions were limited to the template's answers can name an
answer the question cannot take ("yes" for "What is the instrument on the left?"), as the
answer or in the top 3. They are removed: beat's predictions-check sends the active version's
predict task for every live question left without its prediction, and the worker, which now
masks the answers a template does not admit, posts them again within a minute or two. Older
versions' predictions of that kind are not shown again.
"""

from django.db import migrations

from qa_model import catalogue


def remove_inadmissible(apps, schema_editor):
    Prediction = apps.get_model("annotator", "Prediction")
    QuestionTemplate = apps.get_model("annotator", "QuestionTemplate")
    admissible = {
        pk: set(catalogue.ANSWER_KINDS[kind])
        for pk, kind in QuestionTemplate.objects.values_list("pk", "answer_kind")
    }
    rows = Prediction.objects.values_list("pk", "question__template_id", "answer", "top3")
    doomed = []
    for pk, template_id, answer, top3 in rows.iterator(chunk_size=5000):
        named = {answer, *(ranked.get("answer") for ranked in top3 or [])}
        if not named <= admissible.get(template_id, named):
            doomed.append(pk)
    for start in range(0, len(doomed), 5000):
        Prediction.objects.filter(pk__in=doomed[start : start + 5000]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0016_blind_scores"),
    ]

    operations = [migrations.RunPython(remove_inadmissible, migrations.RunPython.noop)]
