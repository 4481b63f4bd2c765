"""Reads for reviewers (staff only; annotators never reach these): the review queues, the page
of one question with the model's prediction, and the collection at a glance."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404

from annotator.models import (
    LIVE_STATUSES,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    Video,
)


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def _predictions(version: ModelVersion) -> QuerySet[Prediction]:
    return Prediction.objects.filter(version=version).select_related(
        "question__video", "question__template", "question__accepted_answer"
    )


def review_disagreements(version: ModelVersion, *, min_confidence: float) -> QuerySet[Prediction]:
    """Accepted questions whose crowd answer a confident model contradicts, surest first:
    where a wrong label is most likely."""
    return (
        _predictions(version)
        .filter(question__status=QuestionStatus.ACCEPTED, confidence__gte=min_confidence)
        .exclude(answer=F("question__accepted_answer__text"))
        .order_by("-confidence", "question_id")
    )


def review_suggestions(version: ModelVersion) -> QuerySet[Prediction]:
    """Open questions with the model's suggested answer, surest first."""
    return (
        _predictions(version)
        .filter(question__status=QuestionStatus.OPEN)
        .order_by("-confidence", "question_id")
    )


def review_disputed() -> QuerySet[Question]:
    """Questions the crowd could not agree on (A6), oldest first."""
    return (
        Question.objects.filter(status=QuestionStatus.DISPUTED)
        .select_related("video", "template")
        .order_by("created_at", "id")
    )


def review_queue_counts(version: ModelVersion | None) -> dict[str, int]:
    """How many items wait in each review queue (annotator.views.review.QUEUES)."""
    from annotator.balance import blind_answerable

    with_version = version is not None
    return {
        "disagreements": (
            review_disagreements(version, min_confidence=settings.REVIEW_MIN_CONFIDENCE).count()
            if with_version
            else 0
        ),
        "suggestions": review_suggestions(version).count() if with_version else 0,
        "disputed": review_disputed().count(),
        "blind": blind_answerable().count(),
    }


def collection_totals() -> dict[str, int]:
    """Videos, live questions and accepted pairs: the collection at a glance."""
    totals = Question.objects.aggregate(
        live=Count("id", filter=Q(status__in=LIVE_STATUSES)),
        accepted=Count("id", filter=Q(status=QuestionStatus.ACCEPTED)),
    )
    return {**totals, "videos": Video.objects.count()}


def question_for_review(pk: int) -> Question:
    try:
        return Question.objects.select_related(
            "video", "template", "author", "accepted_answer"
        ).get(pk=pk)
    except Question.DoesNotExist:
        raise Http404 from None


def prediction_for(question: Question, version: ModelVersion | None) -> Prediction | None:
    """The active version's prediction, else the newest one there is."""
    predictions = question.predictions.select_related("version")
    if version is not None:
        current = predictions.filter(version=version).first()
        if current:
            return current
    return predictions.order_by("-version__number").first()
