"""Reads for annotators: what to ask or answer next, and what they may see of their work.

The offers are only what the services would accept (given enough watching): they filter on the
same querysets (`Question.objects.live()`, `.blocking()`) the services check. Gold questions are
offered here too, and an annotator under the gold-accuracy bar is offered nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, Max, Model, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotator import errors
from annotator.counts import count_per_row
from annotator.models import (
    OFFER_RING,
    Question,
    QuestionStatus,
    QuestionTemplate,
    Video,
    Vote,
    WatchSession,
    offer_place,
)
from annotator.qualification import FAILED, QUALIFYING, qualification_of
from annotator.selectors.permissions import is_annotator

# The home page counts the work open to an annotator up to this, then says "more than".
OFFER_COUNT_CAP = 100


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
            gold_open_to(annotator)
            .exclude(pk__in=list(exclude))
            .select_related("template", "video")
            .order_by("gold_since", "pk")
            .first()
        )
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
