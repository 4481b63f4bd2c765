"""The write use cases of the collection, each one transaction that enforces its rules.

Locks are always taken in one order, Video → Question → WatchSession, so two use cases never
wait on each other in a cycle. On PostgreSQL the row locks serialise the decisions that span
rows (Q2, Q3, A3); on SQLite, transactions begin IMMEDIATE and so serialise all writers anyway.
The database constraints in models.py stand behind the checks for anything that slips past.
Videos and questions are locked FOR NO KEY UPDATE: it serialises the use cases just as well,
and leaves alone the rows that only refer to them (a viewing starting on the video).

The counts stored beside the rows (a video's live questions, a question's counted votes; see
counts.py) are refreshed here, under the same locks, in the transaction that changes them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator import counts, errors, modelloop, rules, selectors
from annotator.models import (
    LIVE_STATUSES,
    Answer,
    Question,
    QuestionStatus,
    QuestionTemplate,
    StatusChange,
    Video,
    Vote,
    WatchClock,
    WatchSession,
)
from annotator.qualification import qualification_of
from annotator.rules import Heartbeat, Limits
from qa_model import media


def _require_annotator(user: object) -> None:
    if not selectors.is_annotator(user):
        raise errors.NotAnAnnotator(errors.NOT_AN_ANNOTATOR)


def _require_reviewer(user: object) -> None:
    if not selectors.is_reviewer(user):
        raise errors.NotAReviewer(errors.NOT_A_REVIEWER)


def _answer_get(text: str) -> Answer:
    try:
        return Answer.objects.get(text=text)
    except Answer.DoesNotExist:
        raise errors.UnknownAnswer(errors.UNKNOWN_ANSWER.format(answer=text)) from None


# --- Videos --------------------------------------------------------------------------------


def video_create(*, avqa_id: str, source: Path, title: str = "", **origin: object) -> Video:
    """Add a playable video (a video and an audio stream) to the collection. `origin` holds
    where it came from (source_hash, source_name, clip_start_seconds), as video_import sets."""
    info = media.probe(source)
    if not info.has_video or not info.has_audio or info.duration_seconds <= 0:
        raise media.MediaError(f"{source.name}: needs a video stream, an audio stream and a length")
    video = Video(avqa_id=avqa_id, title=title, duration_seconds=info.duration_seconds, **origin)
    storage = video.file.storage
    name = storage.get_available_name(
        video.file.field.generate_filename(video, f"{avqa_id}{source.suffix}"),
        max_length=video.file.field.max_length,
    )
    try:
        with source.open("rb") as handle:
            video.file.name = storage.save(name, File(handle))
    except OSError:
        # The storage writes under the final name, so a full disk would leave half a video
        # there. `name` was free a moment ago and ids are unique, so the partial file is ours.
        storage.delete(name)
        raise
    try:
        with transaction.atomic():
            video.save()
            # Features are extracted on the gpu queue once the video is committed.
            modelloop.video_features_queue(video)
    except BaseException:
        # Nothing of a refused video may stay behind in the media folder.
        video.file.delete(save=False)
        raise
    return video


# --- W1: watching --------------------------------------------------------------------------


def watch_start(
    *, annotator: object, video: Video, question: Question | None = None
) -> WatchSession:
    """Open a viewing of a video; heartbeats credit it, one submission consumes it.

    With `question`, the viewing is for answering it: while the viewing goes on, the question
    is offered to others only if more votes than those on their way are needed.
    """
    _require_annotator(annotator)
    if not video.is_active:
        raise errors.VideoInactive(errors.VIDEO_INACTIVE)
    if question is not None and question.video_id != video.pk:
        raise errors.WatchSessionWrongVideo(errors.WATCH_SESSION_WRONG_VIDEO)
    if question is None:
        return _watch_session_create(annotator, video, None)
    with transaction.atomic():
        # The lease: under the question's lock, so two people offered it at the same moment
        # cannot both start watching for the one vote it still needs.
        locked = Question.objects.select_for_update().get(pk=question.pk)
        coming = selectors.votes_on_their_way(annotator)[locked.pk]
        if selectors.question_held(locked, coming):
            raise errors.QuestionTaken(errors.QUESTION_TAKEN)
        return _watch_session_create(annotator, video, locked)


def _watch_session_create(
    annotator: object, video: Video, question: Question | None
) -> WatchSession:
    now = timezone.now()
    # Credited "now" to begin with: a viewing just opened is going on until its heartbeats say
    # otherwise.
    return WatchSession.objects.create(
        annotator=annotator,
        video=video,
        answering=question,
        started_at=now,
        last_heartbeat_at=now,
        last_credited_at=now,
    )


# A person with no credit yet: their first heartbeat is limited by the viewing alone.
_NEVER_CREDITED = timedelta(days=1)


def watch_heartbeat(
    *, annotator: object, watch_session: WatchSession, heartbeat: Heartbeat
) -> WatchSession:
    """Credit a viewing with the watching one heartbeat proves, on the server's clock (W1)."""
    _require_annotator(annotator)
    problem = heartbeat.problem()
    if problem:
        raise errors.HeartbeatInvalid(errors.HEARTBEAT_INVALID.format(problem=problem))
    limits = Limits.from_settings()
    with transaction.atomic():
        # The person's clock first, then the viewing (always in this order). The clock makes
        # the heartbeats of all their viewings take turns, so each measures the real time since
        # the person was last credited anywhere: eight tabs share the seconds of one person. The
        # viewing's lock makes a burst of one viewing's heartbeats share its seconds likewise.
        now = timezone.now()
        WatchClock.objects.get_or_create(
            annotator_id=annotator.pk, defaults={"credited_until": now - _NEVER_CREDITED}
        )
        clock = WatchClock.objects.select_for_update().get(annotator_id=annotator.pk)
        session = (
            WatchSession.objects.select_for_update(of=("self",))
            .select_related("video")
            .filter(pk=watch_session.pk)
            .first()
        )
        if session is None or session.annotator_id != annotator.pk:
            raise errors.WatchSessionNotFound(errors.WATCH_SESSION_NOT_FOUND)
        if session.consumed_at is not None:
            raise errors.WatchSessionConsumed(errors.WATCH_SESSION_CONSUMED)
        now = timezone.now()
        since_heartbeat = (now - session.last_heartbeat_at).total_seconds()
        since_credited = (now - clock.credited_until).total_seconds()
        credit = rules.heartbeat_credit(
            heartbeat,
            previous_position=session.last_position,
            elapsed_seconds=min(since_heartbeat, since_credited),
            duration_seconds=session.video.duration_seconds,
            limits=limits,
        )
        # Not stored: the answer to this heartbeat says why it counted less than time passed.
        session.shortfall = rules.heartbeat_shortfall(
            heartbeat,
            credit=credit,
            previous_position=session.last_position,
            since_heartbeat=since_heartbeat,
            since_credited=since_credited,
            duration_seconds=session.video.duration_seconds,
            limits=limits,
        )
        session.credited_seconds += credit
        if credit > 0:
            session.last_credited_at = now
            if now > clock.credited_until:
                clock.credited_until = now
                clock.save(update_fields=["credited_until"])
        # Never move backwards: with several web servers, or a clock stepped back, a later
        # heartbeat could otherwise be credited again for seconds already counted.
        session.last_heartbeat_at = max(session.last_heartbeat_at, now)
        session.last_position = heartbeat.position
        session.heartbeats += 1
        session.save(
            update_fields=[
                "credited_seconds",
                "last_heartbeat_at",
                "last_credited_at",
                "last_position",
                "heartbeats",
            ]
        )
    return session


def _watch_session_consume(
    *, annotator: object, video: Video, watch_session: WatchSession, limits: Limits
) -> WatchSession:
    """Spend a viewing on one submission; call inside the submission's transaction."""
    session = WatchSession.objects.select_for_update().filter(pk=watch_session.pk).first()
    if session is None or session.annotator_id != annotator.pk:
        raise errors.WatchSessionNotFound(errors.WATCH_SESSION_NOT_FOUND)
    if session.video_id != video.pk:
        raise errors.WatchSessionWrongVideo(errors.WATCH_SESSION_WRONG_VIDEO)
    if session.consumed_at is not None:
        raise errors.WatchSessionConsumed(errors.WATCH_SESSION_CONSUMED)
    if session.credited_seconds < limits.watch_min_seconds:
        raise errors.WatchTooShort(
            errors.WATCH_TOO_SHORT.format(
                required=limits.watch_min_seconds, credited=session.credited_seconds
            )
        )
    # Conditional on still being unconsumed: a second submission racing with this one (the
    # same form sent twice) finds nothing to update and is refused.
    now = timezone.now()
    if WatchSession.objects.filter(pk=session.pk, consumed_at=None).update(consumed_at=now) != 1:
        raise errors.WatchSessionConsumed(errors.WATCH_SESSION_CONSUMED)
    session.consumed_at = now
    return session


def watch_sessions_prune(*, older_than: timedelta | None = None) -> int:
    """Delete unused viewings older than WATCH_SESSION_MAX_AGE_HOURS; return how many."""
    if older_than is None:
        older_than = timedelta(hours=settings.WATCH_SESSION_MAX_AGE_HOURS)
    deleted, _ = WatchSession.objects.filter(
        consumed_at=None, started_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


# --- Q1–Q3: asking -------------------------------------------------------------------------

_CONSTRAINT_VIOLATIONS = {
    "q1_template_once_per_author": (errors.TemplateUsedByYou, errors.TEMPLATE_USED_BY_YOU),
    "q2_one_live_question_per_template": (errors.TemplateTaken, errors.TEMPLATE_TAKEN),
    "a2_one_vote_per_annotator": (errors.AlreadyVoted, errors.ALREADY_VOTED),
}


def _insert(model: type[Question] | type[Vote], **fields: object) -> Question | Vote:
    """Create a row; a constraint it breaks is raised as the refusal that constraint stands for.

    The checks before an insert should catch every violation first; the constraints are the
    backstop that holds even if a check is bypassed.
    """
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError as error:
        for constraint, (violation, message) in _CONSTRAINT_VIOLATIONS.items():
            if constraint in str(error):
                raise violation(message) from error
        raise


def _check_live_room(*, video: Video, template: QuestionTemplate, limits: Limits) -> None:
    """Q2 and Q3 for a question about to become live on a locked video."""
    live = Question.objects.filter(video=video).live()
    if live.count() >= limits.questions_per_video:
        raise errors.VideoFull(errors.VIDEO_FULL.format(limit=limits.questions_per_video))
    if live.filter(template=template).exists():
        raise errors.TemplateTaken(errors.TEMPLATE_TAKEN)


def question_create(
    *,
    annotator: object,
    video: Video,
    template: QuestionTemplate,
    slot_values: object,
    watch_session: WatchSession,
) -> Question:
    """Ask a question from a template on a video the annotator has watched (W1, Q1–Q3)."""
    _require_annotator(annotator)
    slot_values = rules.check_slot_values(template.text, slot_values)
    limits = Limits.from_settings()
    with transaction.atomic():
        # Lock the video: every question on it is decided one at a time, so two annotators
        # racing for its last slot or for the same template cannot both win.
        video = Video.objects.select_for_update(no_key=True).get(pk=video.pk)
        if not video.is_active:
            raise errors.VideoInactive(errors.VIDEO_INACTIVE)
        if Question.objects.filter(video=video, template=template, author=annotator).exists():
            raise errors.TemplateUsedByYou(errors.TEMPLATE_USED_BY_YOU)
        _check_live_room(video=video, template=template, limits=limits)
        session = _watch_session_consume(
            annotator=annotator, video=video, watch_session=watch_session, limits=limits
        )
        question = _insert(
            Question,
            video=video,
            template=template,
            slot_values=slot_values,
            author=annotator,
            watch_session=session,
        )
        counts.video_live_refresh(video.pk)
        StatusChange.objects.create(
            question=question,
            to_status=QuestionStatus.OPEN,
            cause=StatusChange.Cause.CREATED,
            actor=annotator,
        )
    return question


# --- A1–A6: answering ----------------------------------------------------------------------


def _question_decide(question: Question, *, actor: object, limits: Limits) -> None:
    """Re-evaluate a locked question from its counted votes and record any change (A3, A5, A6)."""
    votes = question.votes.counted().order_by("pk").values_list("answer__text", "invalid")
    outcome = rules.vote_outcome([None if invalid else answer for answer, invalid in votes], limits)
    if outcome.status == question.status:
        return
    _status_set(
        question,
        to_status=outcome.status,
        answer=_answer_get(outcome.answer) if outcome.answer else None,
        cause=StatusChange.Cause.VOTES,
        actor=actor,
    )


def _status_set(
    question: Question,
    *,
    to_status: str,
    answer: Answer | None,
    cause: str,
    actor: object,
    note: str = "",
) -> None:
    """Move a question to a new status, exactly once, and write it to the audit trail. The
    caller holds the row locks of the question and its video (whose live questions it recounts)."""
    from_status = question.status
    decided_at = None if to_status == QuestionStatus.OPEN else timezone.now()
    # Conditional on the status we read: under the row lock this always matches; without it
    # (a caller that forgot the lock) the second of two deciders updates nothing and fails loudly
    # instead of accepting the question twice.
    # Only an accepted question can be gold; leaving accepted ends it.
    gold_since = question.gold_since if to_status == QuestionStatus.ACCEPTED else None
    updated = Question.objects.filter(pk=question.pk, status=from_status).update(
        status=to_status, accepted_answer=answer, decided_at=decided_at, gold_since=gold_since
    )
    if updated != 1:
        raise RuntimeError(f"question {question.pk} changed status under a lock")
    question.status, question.accepted_answer, question.decided_at = to_status, answer, decided_at
    question.gold_since = gold_since
    if (from_status in LIVE_STATUSES) != (to_status in LIVE_STATUSES):
        counts.video_live_refresh(question.video_id)
    StatusChange.objects.create(
        question=question,
        from_status=from_status,
        to_status=to_status,
        accepted_answer=answer,
        cause=cause,
        actor=actor,
        note=note,
    )


def vote_cast(
    *,
    annotator: object,
    question: Question,
    watch_session: WatchSession,
    answer: str | None = None,
    invalid: bool = False,
) -> Vote:
    """Answer a question from its answer kind, or flag it invalid (W1, A1–A6)."""
    _require_annotator(annotator)
    if invalid == (answer is not None):
        raise errors.VoteEmpty(errors.VOTE_EMPTY)
    limits = Limits.from_settings()
    with transaction.atomic():
        # Lock the question: its voters take turns, so exactly one vote can be the one that
        # brings an answer to two, and it is accepted once with that answer. Its video first
        # (the lock order): a decision can change the video's live questions.
        video = Video.objects.select_for_update(no_key=True).get(pk=question.video_id)
        question = Question.objects.select_for_update(no_key=True).get(pk=question.pk)
        if not video.is_active:
            raise errors.VideoInactive(errors.VIDEO_INACTIVE)
        gold = question.gold_since is not None
        if question.status != QuestionStatus.OPEN and not gold:
            raise errors.QuestionClosed(errors.QUESTION_CLOSED[question.status])
        if question.author_id == annotator.pk:
            raise errors.OwnQuestion(errors.OWN_QUESTION)
        if Vote.objects.filter(question=question, annotator=annotator).exists():
            raise errors.AlreadyVoted(errors.ALREADY_VOTED)
        if not gold:
            standing = qualification_of(annotator)
            if not standing.counts_votes:
                raise errors.NotQualified(
                    errors.NOT_QUALIFIED[standing.state].format(
                        done=standing.done, required=standing.required, correct=standing.correct
                    )
                )
        answer_row = None
        if not invalid:
            answer_row = _answer_get(rules.check_answer(answer, question.template.answers))
        session = _watch_session_consume(
            annotator=annotator, video=video, watch_session=watch_session, limits=limits
        )
        vote = _insert(
            Vote,
            question=question,
            annotator=annotator,
            answer=answer_row,
            invalid=invalid,
            watch_session=session,
            gold_check=gold,
        )
        if not gold:
            counts.question_votes_refresh(question.pk)
            _question_decide(question, actor=annotator, limits=limits)
    return vote


# --- Review --------------------------------------------------------------------------------

ACCEPT = "accept"
INVALIDATE = "invalidate"
REOPEN = "reopen"
KEEP = "keep"
REVIEW_ACTIONS = (ACCEPT, INVALIDATE, REOPEN, KEEP)


def question_review(
    *,
    reviewer: object,
    question: Question,
    action: str,
    answer: str | None = None,
    note: str = "",
) -> Question:
    """A reviewer's decision on a question, written to the audit trail.

    accept: set (or override) the accepted answer; invalidate: mark it invalid (its slot and
    template reopen, Q2/Q3); reopen: back to open votes, discounting the votes so far so a fresh
    round decides; keep: confirm an accepted or invalid question as it is.
    """
    _require_reviewer(reviewer)
    if action not in REVIEW_ACTIONS:
        raise errors.ReviewInvalid(
            errors.REVIEW_ACTION_UNKNOWN.format(action=action, choices=", ".join(REVIEW_ACTIONS))
        )
    limits = Limits.from_settings()
    with transaction.atomic():
        video = Video.objects.select_for_update(no_key=True).get(pk=question.video_id)
        question = Question.objects.select_for_update(no_key=True).get(pk=question.pk)
        answer_row = None
        if action == KEEP:
            if question.status not in (QuestionStatus.ACCEPTED, QuestionStatus.INVALID):
                raise errors.ReviewInvalid(errors.REVIEW_KEEP_UNDECIDED)
            StatusChange.objects.create(
                question=question,
                from_status=question.status,
                to_status=question.status,
                accepted_answer=question.accepted_answer,
                cause=StatusChange.Cause.REVIEW,
                actor=reviewer,
                note=note,
            )
            return question
        if action == ACCEPT:
            if not answer:
                raise errors.ReviewInvalid(errors.REVIEW_NEEDS_ANSWER)
            answer_row = _answer_get(rules.check_answer(answer, question.template.answers))
            to_status = QuestionStatus.ACCEPTED
            unchanged = question.accepted_answer_id == answer_row.pk
        else:
            to_status = QuestionStatus.INVALID if action == INVALIDATE else QuestionStatus.OPEN
            unchanged = question.status == to_status
        if unchanged:
            raise errors.ReviewInvalid(errors.REVIEW_NO_CHANGE.format(status=question.status))
        if question.status not in LIVE_STATUSES and to_status in LIVE_STATUSES:
            # Back to live from invalid: the template or the slot may have been taken since.
            _check_live_room(video=video, template=question.template, limits=limits)
        if action == REOPEN:
            question.votes.counted().update(discounted_at=timezone.now())
            counts.question_votes_refresh(question.pk)
        _status_set(
            question,
            to_status=to_status,
            answer=answer_row,
            cause=StatusChange.Cause.REVIEW,
            actor=reviewer,
            note=note,
        )
    return question


# --- annotators ----------------------------------------------------------------------------


def annotator_deactivate(*, annotator: object, by: object) -> dict[str, int]:
    """Stop an annotator and take their votes out of the count: each question they voted on is
    re-evaluated from the remaining votes (an acceptance their vote made may return to open).
    A reviewer's decision stands, and a question whose template or slot was taken meanwhile is
    left as it was rather than breaking Q2/Q3."""
    _require_reviewer(by)
    limits = Limits.from_settings()
    changed = kept = 0
    with transaction.atomic():
        type(annotator).objects.filter(pk=annotator.pk).update(is_active=False)
        votes = Vote.objects.filter(annotator=annotator).counted()
        question_ids = sorted(set(votes.values_list("question_id", flat=True)))
        discounted = votes.update(discounted_at=timezone.now())
        for question_id in question_ids:
            question = Question.objects.select_related("video").get(pk=question_id)
            Video.objects.select_for_update(no_key=True).get(pk=question.video_id)
            question = Question.objects.select_for_update(no_key=True).get(pk=question_id)
            counts.question_votes_refresh(question_id)
            last = question.history.order_by("-id").first()
            if last is not None and last.cause == StatusChange.Cause.REVIEW:
                kept += 1
                continue
            counted = question.votes.counted().order_by("pk").values_list("answer__text", "invalid")
            outcome = rules.vote_outcome([None if i else a for a, i in counted], limits)
            current = question.accepted_answer.text if question.accepted_answer else None
            if (outcome.status, outcome.answer) == (question.status, current):
                continue
            if question.status not in LIVE_STATUSES and outcome.status in LIVE_STATUSES:
                try:
                    _check_live_room(
                        video=question.video, template=question.template, limits=limits
                    )
                except errors.RuleViolation:
                    kept += 1
                    continue
            _status_set(
                question,
                to_status=outcome.status,
                answer=_answer_get(outcome.answer) if outcome.answer else None,
                cause=StatusChange.Cause.VOTES,
                actor=by,
                note=f"re-evaluated without the votes of {annotator}",
            )
            changed += 1
    return {"votes_discounted": discounted, "questions_changed": changed, "questions_kept": kept}


def question_gold_set(*, reviewer: object, question: Question, gold: bool) -> Question:
    """Make an accepted question gold (offered again, unknowingly, to measure annotators), or
    stop it being gold."""
    _require_reviewer(reviewer)
    with transaction.atomic():
        question = Question.objects.select_for_update(no_key=True).get(pk=question.pk)
        if gold and question.status != QuestionStatus.ACCEPTED:
            raise errors.ReviewInvalid(errors.GOLD_NOT_ACCEPTED)
        question.gold_since = (question.gold_since or timezone.now()) if gold else None
        question.save(update_fields=["gold_since"])
    return question
