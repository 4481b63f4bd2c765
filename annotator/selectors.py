"""Reads: who may do what, and what to offer next.

The selectors offer only what the services would accept (given enough watching): they filter
on the same querysets (`Question.objects.live()`, `.blocking()`) the services check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.http import Http404
from django.utils import timezone

from annotator import errors
from annotator.models import (
    ANNOTATORS_GROUP,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    QuestionTemplate,
    Video,
    Vote,
    WatchSession,
)
from qa_model import catalogue


def is_annotator(user: object) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.groups.filter(name=ANNOTATORS_GROUP).exists()
    )


def is_model_worker(user: object) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.groups.filter(name=settings.MODEL_WORKERS_GROUP).exists()
    )


def is_reviewer(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def template_get(template_id: object) -> QuestionTemplate:
    """The template with this catalogue number, or UnknownTemplate."""
    try:
        return QuestionTemplate.objects.get(pk=int(template_id))
    except (TypeError, ValueError, OverflowError, QuestionTemplate.DoesNotExist):
        raise errors.UnknownTemplate(errors.UNKNOWN_TEMPLATE.format(template=template_id)) from None


def watch_session_get(annotator: object, session_id: object) -> WatchSession:
    """The annotator's own viewing; someone else's is reported exactly like a missing one."""
    try:
        return WatchSession.objects.get(pk=int(session_id), annotator=annotator)
    except (TypeError, ValueError, OverflowError, WatchSession.DoesNotExist):
        raise errors.WatchSessionNotFound(errors.WATCH_SESSION_NOT_FOUND) from None


def templates_open_for(annotator: object, video: Video) -> QuerySet[QuestionTemplate]:
    """Templates this annotator may ask on this video now (Q1, Q2, Q3)."""
    if not is_annotator(annotator) or not video.is_active:
        return QuestionTemplate.objects.none()
    on_video = Question.objects.filter(video=video)
    if on_video.live().count() >= settings.QUESTIONS_PER_VIDEO:
        return QuestionTemplate.objects.none()
    return QuestionTemplate.objects.exclude(pk__in=on_video.blocking(annotator).values("template"))


def _count_per_video(questions: QuerySet[Question], *, distinct_templates: bool = False):
    """A subquery counting these questions on the outer video (0 when there are none)."""
    counted = Count("template", distinct=True) if distinct_templates else Count("pk")
    per_video = (
        questions.filter(video=OuterRef("pk")).order_by().values("video").annotate(n=counted)
    )
    return Coalesce(Subquery(per_video.values("n")), Value(0), output_field=IntegerField())


def videos_open_to_ask(annotator: object) -> QuerySet[Video]:
    """Active videos with a free slot and at least one template open to this annotator."""
    videos = (
        Video.objects.filter(is_active=True)
        .annotate(
            live_questions=_count_per_video(Question.objects.live()),
            blocked_templates=_count_per_video(
                Question.objects.blocking(annotator), distinct_templates=True
            ),
        )
        .filter(
            live_questions__lt=settings.QUESTIONS_PER_VIDEO,
            blocked_templates__lt=QuestionTemplate.objects.count(),
        )
    )
    return videos if is_annotator(annotator) else videos.none()


def next_video_to_ask(annotator: object, exclude: Iterable[int] = ()) -> Video | None:
    """The video this annotator should write a question for next.

    Videos with the fewest live questions first: spreading annotators over videos keeps them
    from racing for the same last slot, and every video gets its first questions early. An
    annotator under the gold-accuracy bar is offered nothing.
    """
    if below_gold_bar(annotator):
        return None
    # Others' viewings opened to ask on a video are questions on their way: counted with the
    # live ones, they keep annotators who arrive together from all racing for the same slots.
    asking = (
        viewings_in_flight(annotator)
        .filter(video=OuterRef("pk"), answering__isnull=True)
        .order_by().values("video").annotate(n=Count("pk")).values("n")
    )  # fmt: skip
    return (
        videos_open_to_ask(annotator)
        .exclude(pk__in=list(exclude))
        .annotate(asking=Coalesce(Subquery(asking), Value(0), output_field=IntegerField()))
        .annotate(claimed=F("live_questions") + F("asking"))
        .filter(claimed__lt=settings.QUESTIONS_PER_VIDEO)
        .annotate(spread=_spread(annotator))
        .order_by("claimed", "spread", "pk")
        .first()
    )


def _spread(annotator: object):
    """A tie-break that differs from one annotator to the next but stays put for each: people
    who ask at the same moment, before any of them has started watching, are offered different
    items, and a person who reloads the page is offered the same one."""
    # Multiplicative hashing modulo a prime, in 64-bit integers: each annotator shifts the ring
    # of videos by a pseudo-random amount, so who is offered what looks random, yet is stable.
    return (F("pk") * 2654435761 + Value(getattr(annotator, "pk", 0) or 0) * 2246822519) % 1000003


def viewings_in_flight(annotator: object) -> QuerySet[WatchSession]:
    """Other people's viewings still going on (a heartbeat within twice the longest gap one
    heartbeat may cover) and not used yet: each is a submission on its way."""
    since = timezone.now() - timedelta(seconds=2 * settings.HEARTBEAT_MAX_CREDIT_SECONDS)
    return WatchSession.objects.filter(
        consumed_at__isnull=True, last_heartbeat_at__gte=since
    ).exclude(annotator=annotator)


def questions_open_to_answer(annotator: object) -> QuerySet[Question]:
    """Open questions this annotator may vote on: not their own, not voted on yet (A2, A4)."""
    if not is_annotator(annotator):
        return Question.objects.none()
    return (
        Question.objects.filter(status=QuestionStatus.OPEN, video__is_active=True)
        .exclude(author=annotator)
        .exclude(votes__annotator=annotator)
    )


def next_question_to_answer(annotator: object, exclude: Iterable[int] = ()) -> Question | None:
    """The question this annotator should answer next.

    Questions closest to a decision first (most counted votes), then the oldest, so pairs get
    accepted rather than every question collecting a single vote. While the annotator's share
    of gold checks is under GOLD_SHARE, a gold question comes first, looking like any other.
    An annotator under the gold-accuracy bar is offered nothing.
    """
    if below_gold_bar(annotator):
        return None
    # Others' viewings opened to answer a question are votes on their way. A question is
    # passed over while they could decide it: two to come on a question without votes, one on
    # a question with one (or with votes that disagree).
    answering = (
        viewings_in_flight(annotator)
        .filter(answering=OuterRef("pk"))
        .order_by().values("answering").annotate(n=Count("pk")).values("n")
    )  # fmt: skip
    question = (
        questions_open_to_answer(annotator)
        .exclude(pk__in=list(exclude))
        .annotate(counted_votes=Count("votes", filter=Q(votes__discounted_at__isnull=True)))
        .annotate(coming=Coalesce(Subquery(answering), Value(0), output_field=IntegerField()))
        .filter(coming__lt=Greatest(Value(1), Value(settings.ACCEPT_VOTES) - F("counted_votes")))
        .annotate(spread=_spread(annotator))
        .select_related("template", "video")
        .order_by("-counted_votes", "spread", "pk")
        .first()
    )
    if question is None:
        return None  # gold questions never make work appear where there is none
    votes = Vote.objects.filter(annotator=annotator)
    if votes.filter(gold_check=True).count() < settings.GOLD_SHARE * (votes.count() + 1):
        gold = (
            gold_open_to(annotator).exclude(pk__in=list(exclude))
            .select_related("template", "video").order_by("gold_since", "pk").first()
        )  # fmt: skip
        return gold or question
    return question


def gold_open_to(annotator: object) -> QuerySet[Question]:
    """Gold questions this annotator has not answered and did not ask."""
    return (
        Question.objects.filter(gold_since__isnull=False, video__is_active=True)
        .exclude(author=annotator)
        .exclude(votes__annotator=annotator)
    )


def gold_accuracy(annotator: object) -> tuple[int, int]:
    """(correct, checks): the annotator's answers to gold questions against the known answer."""
    checks = Vote.objects.filter(annotator=annotator, gold_check=True)
    correct = checks.filter(answer=F("question__accepted_answer")).count()
    return correct, checks.count()


def below_gold_bar(annotator: object) -> bool:
    if settings.GOLD_MIN_ACCURACY <= 0:
        return False
    correct, checks = gold_accuracy(annotator)
    return checks >= settings.GOLD_MIN_CHECKS and correct / checks < settings.GOLD_MIN_ACCURACY


def video_get(video_id: object) -> Video:
    """An active video, or 404: withdrawn videos are nobody's to see."""
    try:
        return Video.objects.get(pk=int(video_id), is_active=True)
    except (TypeError, ValueError, OverflowError, Video.DoesNotExist):
        raise Http404("No such video.") from None


def question_get_for_vote(annotator: object, question_id: object) -> Question:
    """A question this annotator may see: open ones, and their own or ones they voted on.

    Anything else (accepted, invalid or disputed questions of others) is hidden (A4), so it is
    reported exactly like a question that does not exist.
    """
    visible = Question.objects.filter(video__is_active=True).filter(
        Q(status=QuestionStatus.OPEN)
        | Q(gold_since__isnull=False)  # offered like open ones (so, answerable like them)
        | Q(author=annotator)
        | Q(votes__annotator=annotator)
    )
    try:
        return visible.select_related("template", "video").distinct().get(pk=int(question_id))
    except (TypeError, ValueError, OverflowError, Question.DoesNotExist):
        raise Http404("No such question.") from None


def contributions_of(annotator: object) -> dict[str, QuerySet]:
    """The annotator's own questions and votes; nothing of anyone else's."""
    return {
        "questions": Question.objects.filter(author=annotator)
        .select_related("template", "video")
        .order_by("-pk"),
        "votes": Vote.objects.filter(annotator=annotator)
        .select_related("question__template", "answer")
        .order_by("-pk"),
    }


# --- review (staff only; annotators never reach these) -------------------------------------


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


# --- annotator quality (staff) -------------------------------------------------------------


def annotators_with_counts(queryset: QuerySet) -> QuerySet:
    """Annotators with their questions asked, counted votes, invalid flags, and agreement with
    the accepted answer of the questions they voted on (once those were accepted)."""
    counted = Q(votes__discounted_at__isnull=True)
    on_accepted = counted & Q(votes__question__status=QuestionStatus.ACCEPTED)
    return queryset.annotate(
        asked=Count("questions", distinct=True),
        vote_count=Count("votes", filter=counted, distinct=True),
        invalid_flags=Count("votes", filter=counted & Q(votes__invalid=True), distinct=True),
        on_accepted=Count("votes", filter=on_accepted, distinct=True),
        agreed=Count(
            "votes",
            filter=on_accepted & Q(votes__answer=F("votes__question__accepted_answer")),
            distinct=True,
        ),
    )


def median_watch_seconds(annotator: object) -> float | None:
    """Median credited seconds of the viewings that unlocked a submission."""
    seconds = sorted(
        WatchSession.objects.filter(annotator=annotator, consumed_at__isnull=False).values_list(
            "credited_seconds", flat=True
        )
    )
    if not seconds:
        return None
    middle = len(seconds) // 2
    return seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2


def votes_per_hour(annotator: object) -> float | None:
    """Votes over the span from the first to the last one (at least one minute)."""
    times = Vote.objects.filter(annotator=annotator).aggregate(
        first=Min("created_at"), last=Max("created_at"), count=Count("id")
    )
    if not times["count"]:
        return None
    hours = max((times["last"] - times["first"]).total_seconds(), 60.0) / 3600
    return times["count"] / hours


# --- the staff dashboard -------------------------------------------------------------------


def daily_totals() -> tuple[list[str], list[int], list[int]]:
    """Days, and the running totals of questions asked and pairs accepted by each day's end."""
    asked = dict(
        Question.objects.annotate(day=TruncDate("created_at")).values_list("day")
        .annotate(n=Count("id")).values_list("day", "n")
    )  # fmt: skip
    accepted = dict(
        Question.objects.filter(status=QuestionStatus.ACCEPTED, decided_at__isnull=False)
        .annotate(day=TruncDate("decided_at")).values_list("day")
        .annotate(n=Count("id")).values_list("day", "n")
    )  # fmt: skip
    days = sorted(set(asked) | set(accepted))
    labels, asked_total, accepted_total = [], [], []
    running_asked = running_accepted = 0
    for day in days:
        running_asked += asked.get(day, 0)
        running_accepted += accepted.get(day, 0)
        labels.append(day.isoformat())
        asked_total.append(running_asked)
        accepted_total.append(running_accepted)
    return labels, asked_total, accepted_total


def template_coverage() -> list[tuple[QuestionTemplate, int, float, float]]:
    """(template, live questions, share of ours, share in the released validation split)."""
    counts = dict(
        Question.objects.live().values_list("template").annotate(n=Count("id"))
        .values_list("template", "n")
    )  # fmt: skip
    total = sum(counts.values()) or 1
    reference = catalogue.REFERENCE_TEMPLATE_COUNTS
    reference_total = sum(reference.values())
    return [
        (template, counts.get(template.pk, 0), counts.get(template.pk, 0) / total,
         reference[template.pk] / reference_total)
        for template in QuestionTemplate.objects.order_by("pk")
    ]  # fmt: skip


def answer_priors() -> list[dict]:
    """Per template, how its accepted answers are spread: a template whose top answer takes
    most pairs is one a question-only model can answer without watching."""
    rows = (
        Question.objects.filter(status=QuestionStatus.ACCEPTED)
        .values_list("template", "accepted_answer__text")
        .annotate(n=Count("id"))
    )
    by_template: dict[int, list[tuple[str, int]]] = {}
    for template_id, answer, count in rows:
        by_template.setdefault(template_id, []).append((answer, count))
    priors = []
    for template in QuestionTemplate.objects.filter(pk__in=by_template).order_by("pk"):
        answers = sorted(by_template[template.pk], key=lambda item: -item[1])
        total = sum(count for _, count in answers)
        priors.append({
            "template": template, "total": total,
            "top": [(answer, count / total) for answer, count in answers[:3]],
            "top_share": answers[0][1] / total,
        })  # fmt: skip
    return priors


def throughput(days: int = 7) -> list[tuple[str, int, int]]:
    """(annotator, questions, votes) over the last `days` days, busiest first."""
    since = timezone.now() - timedelta(days=days)
    asked = Counter(
        Question.objects.filter(created_at__gte=since).values_list("author__username", flat=True)
    )
    voted = Counter(
        Vote.objects.filter(created_at__gte=since).values_list("annotator__username", flat=True)
    )
    people = sorted(set(asked) | set(voted), key=lambda name: (-(asked[name] + voted[name]), name))
    return [(name, asked[name], voted[name]) for name in people]
