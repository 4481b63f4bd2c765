"""Reads: who may do what, and what to offer next.

The selectors offer only what the services would accept (given enough watching): they filter
on the same querysets (`Question.objects.live()`, `.blocking()`) the services check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    Model,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from annotator import errors
from annotator.aggregates import Median
from annotator.counts import count_per_row
from annotator.models import (
    ANNOTATORS_GROUP,
    LIVE_STATUSES,
    OFFER_RING,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    QuestionTemplate,
    Video,
    Vote,
    WatchSession,
    offer_place,
)
from annotator.qualification import FAILED, QUALIFYING, qualification_of
from qa_model import catalogue

# The home page counts the work open to an annotator up to this, then says "more than".
OFFER_COUNT_CAP = 100


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
    if not is_annotator(annotator):
        return QuestionTemplate.objects.none()
    # The video's state is read afresh (the object passed in may be older than its questions).
    room = Video.objects.filter(
        pk=video.pk, is_active=True, live_questions__lt=settings.QUESTIONS_PER_VIDEO
    )
    blocking = Question.objects.filter(video=video).blocking(annotator).values("template")
    return QuestionTemplate.objects.filter(Exists(room)).exclude(pk__in=blocking)


def _templates_blocked(annotator: object):
    """A subquery: how many templates are closed to this annotator on the outer video (Q1, Q2)."""
    return count_per_row(Question.objects.blocking(annotator), "video", distinct="template")


def _videos_closed_to(annotator: object) -> list[int]:
    """Videos with a free slot on which every template is closed to this annotator.

    A video with a free slot has fewer live questions than slots, so only the annotator's own
    questions (Q1: invalidated ones too) can close all the templates, and only on a video where
    they asked more than templates − slots of them: those few videos are the ones looked at.
    """
    templates = QuestionTemplate.objects.count()
    suspects = (
        Question.objects.filter(author=annotator)
        .values("video")
        .annotate(own=Count("pk"))
        .filter(own__gt=templates - settings.QUESTIONS_PER_VIDEO)
        .values("video")
    )
    closed = Video.objects.filter(pk__in=suspects).annotate(blocked=_templates_blocked(annotator))
    return list(closed.filter(blocked__gte=templates).values_list("pk", flat=True))


def videos_open_to_ask(annotator: object) -> QuerySet[Video]:
    """Active videos with a free slot and at least one template open to this annotator."""
    if not is_annotator(annotator):
        return Video.objects.none()
    return Video.objects.filter(
        is_active=True, live_questions__lt=settings.QUESTIONS_PER_VIDEO
    ).exclude(pk__in=_videos_closed_to(annotator))


def _first_on_ring(rows: QuerySet, start: int) -> Model | None:
    """The first of `rows` round the offer ring from `start`: the lowest place from `start` up,
    else the lowest below it. One or two probes of the partial index of the rows that can still
    be offered, however many there are."""
    ahead = rows.filter(offer_key__gte=start).order_by("offer_key").first()
    return ahead or rows.filter(offer_key__lt=start).order_by("offer_key").first()


def next_video_to_ask(annotator: object, exclude: Iterable[int] = ()) -> Video | None:
    """The video this annotator should write a question for next.

    Videos with the fewest live questions first: spreading annotators over videos keeps them
    from racing for the same last slot, and every video gets its first questions early. Others'
    viewings opened to ask on a video are questions on their way and count with its live ones,
    so annotators who arrive together are not all sent to the same slots. Among equals, each
    annotator walks the ring from a place of their own (stable, so a reload offers the same
    video). An annotator under the gold-accuracy bar is offered nothing.

    The cost does not grow with the collection: the viewings on their way are a few rows (one
    per person watching now), and the walk reads the offer-ring index level by level and stops
    at the first video with a template open to this annotator.
    """
    if not is_annotator(annotator) or below_gold_bar(annotator):
        return None
    limit = settings.QUESTIONS_PER_VIDEO
    asking = Counter(video for video, question in viewings_in_flight(annotator) if not question)
    candidates = (
        Video.objects.filter(is_active=True)
        .exclude(pk__in=list(exclude))
        .annotate(blocked=_templates_blocked(annotator))
        .filter(blocked__lt=QuestionTemplate.objects.count())
    )
    busy = list(candidates.filter(pk__in=list(asking), live_questions__lt=limit)) if asking else []
    start = offer_place(getattr(annotator, "pk", 0) or 0)

    def place(video: Video) -> int:
        return (video.offer_key - start) % OFFER_RING

    for level in range(limit):
        found = [video for video in busy if video.live_questions + asking[video.pk] == level]
        quiet = candidates.filter(live_questions=level).exclude(pk__in=list(asking))
        if (first := _first_on_ring(quiet, start)) is not None:
            found.append(first)
        if found:
            return min(found, key=place)
    return None


def viewings_in_flight(annotator: object) -> list[tuple[int, int | None]]:
    """Other people's viewings really going on, as (video, question being answered or None):
    each is a submission on its way. Going on means not used yet, credited within twice the
    longest gap one heartbeat may cover (a paused, muted or hidden viewing reserves nothing),
    and started at most OFFER_LEASE_SECONDS ago; of each person, only the
    OFFER_VIEWINGS_PER_ANNOTATOR most recently credited count. A few rows: one or two per
    person watching now, read through a partial index."""
    now = timezone.now()
    rows = (
        WatchSession.objects.filter(
            consumed_at__isnull=True,
            last_credited_at__gte=now
            - timedelta(seconds=2 * settings.HEARTBEAT_MAX_CREDIT_SECONDS),
            started_at__gte=now - timedelta(seconds=settings.OFFER_LEASE_SECONDS),
        )
        .exclude(annotator=annotator)
        .order_by("annotator_id", "-last_credited_at")
        .values_list("annotator_id", "video_id", "answering_id")
    )
    per_person: Counter = Counter()
    going_on = []
    for person, video, question in rows:
        per_person[person] += 1
        if per_person[person] <= settings.OFFER_VIEWINGS_PER_ANNOTATOR:
            going_on.append((video, question))
    return going_on


def votes_on_their_way(annotator: object) -> Counter:
    """Question -> others' viewings going on to answer it."""
    return Counter(question for _, question in viewings_in_flight(annotator) if question)


def question_held(question: Question, coming: int) -> bool:
    """Whether the votes on their way can decide the question without one more."""
    return coming >= max(1, settings.ACCEPT_VOTES - question.counted_votes)


def questions_open_to_answer(annotator: object) -> QuerySet[Question]:
    """Open questions this annotator may vote on: not their own, not voted on yet (A2, A4)."""
    if not is_annotator(annotator):
        return Question.objects.none()
    voted = Vote.objects.filter(question=OuterRef("pk"), annotator=annotator)
    return (
        Question.objects.filter(status=QuestionStatus.OPEN, video__is_active=True)
        .exclude(author=annotator)
        .filter(~Exists(voted))
    )


def next_question_to_answer(annotator: object, exclude: Iterable[int] = ()) -> Question | None:
    """The question this annotator should answer next.

    Questions closest to a decision first (most counted votes), so pairs get accepted rather
    than every question collecting a single vote; among equals, each annotator walks the ring
    from a place of their own. Others' viewings opened to answer a question are votes on their
    way: a question is passed over while they could decide it (two to come on a question
    without votes, one on a question with one, or with votes that disagree). While the
    annotator's share of gold checks is under GOLD_SHARE, a gold question comes first, looking
    like any other. An annotator under the gold-accuracy bar is offered nothing.

    Like the next video, the cost does not grow with the collection: the walk reads the
    offer-ring index of open questions, level by level, and stops at the first fit.
    """
    if not is_annotator(annotator) or below_gold_bar(annotator):
        return None
    standing = qualification_of(annotator)
    if standing.state == FAILED:
        return None
    if standing.state == QUALIFYING:
        # The qualification round: gold questions only, oldest gold first.
        return (
            gold_open_to(annotator)
            .exclude(pk__in=list(exclude))
            .select_related("template", "video")
            .order_by("gold_since", "pk")
            .first()
        )
    candidates = (
        questions_open_to_answer(annotator)
        .exclude(pk__in=list(exclude))
        .select_related("template", "video")
    )
    coming = votes_on_their_way(annotator)
    if coming:
        counted = Question.objects.filter(pk__in=list(coming)).only("pk", "counted_votes")
        held = [question.pk for question in counted if question_held(question, coming[question.pk])]
        candidates = candidates.exclude(pk__in=held)
    top = Question.objects.filter(status=QuestionStatus.OPEN).aggregate(top=Max("counted_votes"))
    start = offer_place(getattr(annotator, "pk", 0) or 0)
    question = None
    for level in range(top["top"] or 0, -1, -1):
        question = _first_on_ring(candidates.filter(counted_votes=level), start)
        if question is not None:
            break
    if question is None:
        return None  # gold questions never make work appear where there is none
    if _gold_due(annotator):
        gold = (
            gold_open_to(annotator).exclude(pk__in=list(exclude))
            .select_related("template", "video").order_by("gold_since", "pk").first()
        )  # fmt: skip
        return gold or question
    return question


def _gold_due(annotator: object) -> bool:
    """Whether the annotator's share of gold checks is under GOLD_SHARE."""
    if settings.GOLD_SHARE <= 0:
        return False
    votes = Vote.objects.filter(annotator=annotator).aggregate(
        every=Count("pk"), gold=Count("pk", filter=Q(gold_check=True))
    )
    return votes["gold"] < settings.GOLD_SHARE * (votes["every"] + 1)


def gold_open_to(annotator: object) -> QuerySet[Question]:
    """Gold questions this annotator has not answered and did not ask."""
    voted = Vote.objects.filter(question=OuterRef("pk"), annotator=annotator)
    return (
        Question.objects.filter(gold_since__isnull=False, video__is_active=True)
        .exclude(author=annotator)
        .filter(~Exists(voted))
    )


def gold_accuracy(annotator: object) -> tuple[int, int]:
    """(correct, checks): the annotator's answers to gold questions against the known answer."""
    checks = Vote.objects.filter(annotator=annotator, gold_check=True).aggregate(
        every=Count("pk"), correct=Count("pk", filter=Q(answer=F("question__accepted_answer")))
    )
    return checks["correct"], checks["every"]


def gold_bar_below(correct: int, checks: int) -> bool:
    """Whether these gold results fall under the bar (GOLD_MIN_ACCURACY over GOLD_MIN_CHECKS)."""
    if settings.GOLD_MIN_ACCURACY <= 0:
        return False
    return checks >= settings.GOLD_MIN_CHECKS and correct / checks < settings.GOLD_MIN_ACCURACY


def below_gold_bar(annotator: object) -> bool:
    # With the bar off, no need to read the annotator's gold checks.
    return settings.GOLD_MIN_ACCURACY > 0 and gold_bar_below(*gold_accuracy(annotator))


def home_counts(annotator: object) -> dict[str, int | bool]:
    """What an annotator's home page shows: work open to them (counted up to OFFER_COUNT_CAP,
    then shown as "more than": an exact count would read the whole collection on every visit)
    and their own questions and votes."""
    return {
        "videos_to_ask": videos_open_to_ask(annotator)[: OFFER_COUNT_CAP + 1].count(),
        "questions_to_answer": questions_open_to_answer(annotator)[: OFFER_COUNT_CAP + 1].count(),
        "count_cap": OFFER_COUNT_CAP,
        "questions_asked": Question.objects.filter(author=annotator).count(),
        "votes_cast": Vote.objects.filter(annotator=annotator).count(),
        "below_gold_bar": below_gold_bar(annotator),
        "qualification": qualification_of(annotator),
    }


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
    try:
        question = Question.objects.select_related("template", "video").get(
            pk=int(question_id), video__is_active=True
        )
    except (TypeError, ValueError, OverflowError, Question.DoesNotExist):
        raise Http404("No such question.") from None
    visible = (
        question.status == QuestionStatus.OPEN
        or question.gold_since is not None  # offered like open ones (so, answerable like them)
        or question.author_id == annotator.pk
        or Vote.objects.filter(question=question, annotator=annotator).exists()
    )
    if not visible:
        raise Http404("No such question.")
    return question


def question_to_watch_for(annotator: object, question_id: object, video: Video) -> Question:
    """A question this annotator may answer now (open or gold, not their own, not voted on), on
    the video about to be watched. Anything else (a decided question, one of their own, another
    video's, none at all) is the same 404, so opening viewings tells nobody the state of others'
    questions."""
    try:
        pk = int(question_id)
    except (TypeError, ValueError, OverflowError):
        raise Http404("No such question open to you on this video.") from None
    for offered in (questions_open_to_answer(annotator), gold_open_to(annotator)):
        question = offered.filter(pk=pk, video=video).select_related("template", "video").first()
        if question is not None:
            return question
    raise Http404("No such question open to you on this video.")


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


# --- annotator quality (staff) -------------------------------------------------------------


def annotators_with_counts(queryset: QuerySet) -> QuerySet:
    """Annotators with the counts their list sorts by: questions asked and votes that count
    (not discounted). Each is a subquery on that person's own rows (no join of everyone's
    questions with everyone's votes)."""
    return queryset.annotate(
        asked=count_per_row(Question.objects.all(), "author"),
        vote_count=count_per_row(Vote.objects.filter(discounted_at__isnull=True), "annotator"),
    )


@dataclass(frozen=True)
class AnnotatorStatistics:
    """One annotator's work as staff judge it. Votes count unless discounted; agreement is with
    the accepted answer of the questions they voted on, once those were accepted."""

    asked: int = 0
    votes: int = 0
    invalid_flags: int = 0
    on_accepted: int = 0
    agreed: int = 0
    gold_checks: int = 0
    gold_correct: int = 0
    votes_cast: int = 0  # every vote, discounted or not: the pace
    first_vote: datetime | None = None
    last_vote: datetime | None = None
    median_watch_seconds: float | None = None  # of the viewings that unlocked a submission

    @property
    def votes_per_hour(self) -> float | None:
        """Votes over the span from the first to the last one (at least one minute)."""
        if not self.votes_cast:
            return None
        hours = max((self.last_vote - self.first_vote).total_seconds(), 60.0) / 3600
        return self.votes_cast / hours

    @property
    def below_gold_bar(self) -> bool:
        return gold_bar_below(self.gold_correct, self.gold_checks)


def annotator_statistics(annotators: Iterable[object]) -> dict[int, AnnotatorStatistics]:
    """Statistics of these annotators (a page of the admin's list), in three queries however
    many there are: one over their votes, one over their questions, one over their viewings."""
    ids = [annotator.pk for annotator in annotators]
    counted = Q(discounted_at__isnull=True)
    on_accepted = counted & Q(question__status=QuestionStatus.ACCEPTED)
    agrees = Q(answer=F("question__accepted_answer"))
    gold = Q(gold_check=True)
    votes = {
        row.pop("annotator"): row
        for row in Vote.objects.filter(annotator__in=ids)
        .values("annotator")
        .annotate(
            votes=Count("pk", filter=counted),
            invalid_flags=Count("pk", filter=counted & Q(invalid=True)),
            on_accepted=Count("pk", filter=on_accepted),
            agreed=Count("pk", filter=on_accepted & agrees),
            gold_checks=Count("pk", filter=gold),
            gold_correct=Count("pk", filter=gold & agrees),
            votes_cast=Count("pk"),
            first_vote=Min("created_at"),
            last_vote=Max("created_at"),
        )
        .order_by()
    }
    asked = dict(
        Question.objects.filter(author__in=ids)
        .values("author")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("author", "n")
    )
    watched = dict(
        WatchSession.objects.filter(annotator__in=ids, consumed_at__isnull=False)
        .values("annotator")
        .annotate(median=Median("credited_seconds"))
        .order_by()
        .values_list("annotator", "median")
    )
    return {
        pk: AnnotatorStatistics(
            asked=asked.get(pk, 0), median_watch_seconds=watched.get(pk), **votes.get(pk, {})
        )
        for pk in ids
    }


# --- the staff dashboard -------------------------------------------------------------------


def daily_totals() -> tuple[list[str], list[int], list[int]]:
    """Days, and the running totals of questions asked and pairs accepted by each day's end."""
    asked = dict(
        Question.objects.annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    accepted = dict(
        Question.objects.filter(status=QuestionStatus.ACCEPTED, decided_at__isnull=False)
        .annotate(day=TruncDate("decided_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
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
        Question.objects.live()
        .values_list("template")
        .annotate(n=Count("id"))
        .values_list("template", "n")
    )
    total = sum(counts.values()) or 1
    reference = catalogue.REFERENCE_TEMPLATE_COUNTS
    reference_total = sum(reference.values())
    return [
        (template, counts.get(template.pk, 0), counts.get(template.pk, 0) / total,
         reference[template.pk] / reference_total)
        for template in QuestionTemplate.objects.order_by("pk")
    ]  # fmt: skip


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
