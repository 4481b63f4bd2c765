"""Reads: who may do what, and what to offer next. One module per audience:

- `permissions`: who is an annotator, a reviewer or the model worker;
- `offers`: annotators' work, what to ask or answer next and what they may see of it;
- `review`: the reviewers' queues and question pages;
- `statistics`: staff statistics, each annotator's quality and the dashboard.

Callers use `from annotator import selectors; selectors.name(...)`: every public name is
re-exported here. A test that patches one must patch it where it is looked up, in its module
(`annotator.selectors.offers.below_gold_bar`), not here.
"""

from annotator.selectors.offers import (
    OFFER_COUNT_CAP,
    below_gold_bar,
    contributions_of,
    gold_accuracy,
    gold_bar_below,
    gold_open_to,
    home_counts,
    next_question_to_answer,
    next_video_to_ask,
    question_get_for_vote,
    question_held,
    question_to_watch_for,
    questions_open_to_answer,
    template_get,
    templates_open_for,
    video_get,
    videos_open_to_ask,
    viewings_in_flight,
    votes_on_their_way,
    watch_session_get,
)
from annotator.selectors.permissions import is_annotator, is_model_worker, is_reviewer
from annotator.selectors.review import (
    collection_totals,
    model_version_active,
    prediction_for,
    question_for_review,
    review_disagreements,
    review_disputed,
    review_queue_counts,
    review_suggestions,
)
from annotator.selectors.statistics import (
    AnnotatorStatistics,
    annotator_statistics,
    annotators_with_counts,
    daily_totals,
    template_coverage,
    throughput,
)

__all__ = [
    "OFFER_COUNT_CAP",
    "AnnotatorStatistics",
    "annotator_statistics",
    "annotators_with_counts",
    "below_gold_bar",
    "collection_totals",
    "contributions_of",
    "daily_totals",
    "gold_accuracy",
    "gold_bar_below",
    "gold_open_to",
    "home_counts",
    "is_annotator",
    "is_model_worker",
    "is_reviewer",
    "model_version_active",
    "next_question_to_answer",
    "next_video_to_ask",
    "prediction_for",
    "question_for_review",
    "question_get_for_vote",
    "question_held",
    "question_to_watch_for",
    "questions_open_to_answer",
    "review_disagreements",
    "review_disputed",
    "review_queue_counts",
    "review_suggestions",
    "template_coverage",
    "template_get",
    "templates_open_for",
    "throughput",
    "video_get",
    "videos_open_to_ask",
    "viewings_in_flight",
    "votes_on_their_way",
    "watch_session_get",
]
