"""Property test: random sequences of the services, with every collection invariant checked
after every step, and the selectors' offers always accepted by the services."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from annotator import accounts, counts, errors, rules, selectors, services
from annotator.models import (
    LIVE_STATUSES,
    Question,
    QuestionTemplate,
    StatusChange,
    Vote,
    WatchSession,
)
from annotator.rules import Heartbeat, Limits
from tests.annotator.helpers import legal_slots, video_make, watched

# A few templates of different answer kinds, so that Q2 collisions and Q3 limits happen often.
TEMPLATE_IDS = (1, 2, 11, 31)
ANSWERS = ("yes", "no", "one", "two", "indoor", "outdoor", "left", "simultaneously", "cello")
LIMITS = Limits(questions_per_video=3, max_votes=4)
RULE_SETTINGS = {
    "QUESTIONS_PER_VIDEO": LIMITS.questions_per_video,
    "MAX_VOTES": LIMITS.max_votes,
    "ACCEPT_VOTES": LIMITS.accept_votes,
    "INVALID_VOTES": LIMITS.invalid_votes,
    "WATCH_MIN_SECONDS": LIMITS.watch_min_seconds,
    "HEARTBEAT_MAX_CREDIT_SECONDS": LIMITS.heartbeat_max_credit_seconds,
}


class CollectionMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        # Each run is one savepoint, rolled back in teardown: runs start from an empty collection.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._settings = override_settings(**RULE_SETTINGS)
        self._settings.enable()
        self._clock = time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False)
        self.clock = self._clock.start()
        self.annotators = [
            accounts.annotator_create(username=f"annotator{index}", password="pw-for-tests-only")
            for index in range(5)
        ]
        self.reviewer = accounts.reviewer_create(username="reviewer", password="pw-for-tests-only")
        self.videos = [video_make(), video_make()]
        self.templates = {pk: QuestionTemplate.objects.get(pk=pk) for pk in TEMPLATE_IDS}

    def teardown(self) -> None:
        self._clock.stop()
        self._settings.disable()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- steps --------------------------------------------------------------------------

    @initialize(who=st.integers(0, 4), template_id=st.sampled_from(TEMPLATE_IDS))
    def a_first_question(self, who: int, template_id: int) -> None:
        """Start every run with a question, so that votes have something to act on."""
        annotator, video = self.annotators[who], self.videos[0]
        template = self.templates[template_id]
        services.question_create(
            annotator=annotator,
            video=video,
            template=template,
            slot_values=legal_slots(template),
            watch_session=watched(annotator, video, clock=self.clock),
        )

    @rule(
        target=sessions,
        who=st.integers(0, 4),
        which=st.integers(0, 1),
        seconds=st.sampled_from([0.0, 10.0, 29.9, 30.0, 45.0]),
    )
    def watch(self, who: int, which: int, seconds: float) -> WatchSession:
        return watched(self.annotators[who], self.videos[which], seconds, self.clock)

    @rule(
        session=sessions,
        who=st.integers(0, 4),
        wait=st.floats(0, 20),
        jump=st.floats(-10, 60),
        playing=st.booleans(),
        muted=st.booleans(),
    )
    def heartbeat(self, session, who, wait, jump, playing, muted) -> None:
        self.clock.shift(wait)
        session.refresh_from_db()
        beat = Heartbeat(max(0.0, session.last_position + jump), playing, True, muted, 1.0)
        with contextlib.suppress(errors.RuleViolation):
            services.watch_heartbeat(
                annotator=self.annotators[who], watch_session=session, heartbeat=beat
            )

    @rule(
        session=sessions,
        who=st.integers(0, 4),
        which=st.integers(0, 1),
        template_id=st.sampled_from(TEMPLATE_IDS),
        legal=st.booleans(),
    )
    def ask(self, session, who, which, template_id, legal) -> None:
        template = self.templates[template_id]
        slots = legal_slots(template, offset=who) if legal else ["kazoo"] * len(template.slots)
        with contextlib.suppress(errors.RuleViolation):
            services.question_create(
                annotator=self.annotators[who],
                video=self.videos[which],
                template=template,
                slot_values=slots,
                watch_session=session,
            )

    @rule(
        session=sessions,
        who=st.integers(0, 4),
        pick=st.integers(0, 40),
        answer=st.sampled_from((None, *ANSWERS)),
    )
    def vote(self, session, who, pick, answer) -> None:
        # Rows are picked by position with a draw that never depends on what the database
        # holds: on PostgreSQL ids keep growing across examples (sequences are not rolled
        # back), so which rows exist when a step replays may differ.
        questions = list(Question.objects.order_by("pk"))
        if not questions:
            return
        question = questions[pick % len(questions)]
        with contextlib.suppress(errors.RuleViolation):
            services.vote_cast(
                annotator=self.annotators[who],
                question=question,
                watch_session=session,
                answer=answer,
                invalid=answer is None,
            )

    @rule(action=st.sampled_from(services.REVIEW_ACTIONS), pick=st.integers(0, 40))
    def review(self, action, pick) -> None:
        questions = list(Question.objects.order_by("pk"))
        if not questions:
            return
        question = questions[pick % len(questions)]
        answer = question.template.answers[pick % len(question.template.answers)]
        with contextlib.suppress(errors.RuleViolation):
            services.question_review(
                reviewer=self.reviewer, question=question, action=action, answer=answer
            )

    @rule(who=st.integers(0, 4), pick=st.integers(0, 40))
    def ask_what_is_offered(self, who, pick) -> None:
        """Whatever the selectors offer, the service accepts once the video is watched."""
        annotator = self.annotators[who]
        video = selectors.next_video_to_ask(annotator)
        if video is None:
            return
        open_templates = list(selectors.templates_open_for(annotator, video))
        assert open_templates, "a video is offered only with a template open to ask"
        template = open_templates[pick % len(open_templates)]
        services.question_create(
            annotator=annotator,
            video=video,
            template=template,
            slot_values=legal_slots(template, offset=pick),
            watch_session=watched(annotator, video, clock=self.clock),
        )

    @rule(who=st.integers(0, 4), pick=st.integers(0, 40), invalid=st.booleans())
    def answer_what_is_offered(self, who, pick, invalid) -> None:
        annotator = self.annotators[who]
        question = selectors.next_question_to_answer(annotator)
        if question is None:
            return
        answers = question.template.answers
        services.vote_cast(
            annotator=annotator,
            question=question,
            watch_session=watched(annotator, question.video, clock=self.clock),
            answer=None if invalid else answers[pick % len(answers)],
            invalid=invalid,
        )

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def q2_q3_at_most_one_live_question_per_template_and_n_per_video(self) -> None:
        live = Question.objects.filter(status__in=LIVE_STATUSES)
        per_video = live.values("video").annotate(n=Count("pk"))
        assert all(row["n"] <= LIMITS.questions_per_video for row in per_video)
        per_template = live.values("video", "template").annotate(n=Count("pk"))
        assert all(row["n"] == 1 for row in per_template)

    @invariant()
    def q1_a_template_once_per_author_and_video(self) -> None:
        rows = Question.objects.values("video", "template", "author").annotate(n=Count("pk"))
        assert all(row["n"] == 1 for row in rows)

    @invariant()
    def a1_a2_votes_are_legal_single_and_never_on_own_questions(self) -> None:
        seen = Counter()
        for vote in Vote.objects.select_related("question__template", "answer"):
            assert vote.annotator_id != vote.question.author_id
            if vote.invalid:
                assert vote.answer is None
            else:
                assert vote.answer.text in vote.question.template.answers
            seen[(vote.question_id, vote.annotator_id)] += 1
        assert all(count == 1 for count in seen.values())

    @invariant()
    def w1_every_submission_spent_one_full_viewing_of_its_video(self) -> None:
        used = []
        submissions = [*Question.objects.all(), *Vote.objects.select_related("question")]
        for submission in submissions:
            session = submission.watch_session
            person = getattr(submission, "author_id", None) or submission.annotator_id
            video_id = getattr(submission, "video_id", None) or submission.question.video_id
            assert session.annotator_id == person
            assert session.video_id == video_id
            assert session.consumed_at is not None
            assert session.credited_seconds >= LIMITS.watch_min_seconds
            used.append(session.pk)
        assert len(used) == len(set(used))
        consumed = WatchSession.objects.exclude(consumed_at=None).count()
        assert consumed == len(used), "a consumed viewing always has its submission"

    @invariant()
    def the_stored_counts_equal_a_recount(self) -> None:
        """Offering work reads a video's live questions and a question's counted votes from
        columns the services keep: they never differ from counting the rows."""
        assert counts.drift() == []

    @invariant()
    def w1_credit_never_exceeds_server_time(self) -> None:
        for session in WatchSession.objects.all():
            wall = (session.last_heartbeat_at - session.started_at).total_seconds()
            assert session.credited_seconds <= wall + 1e-6

    @invariant()
    def a3_to_a6_status_follows_the_votes_unless_a_reviewer_decided(self) -> None:
        for question in Question.objects.select_related("accepted_answer"):
            history = list(question.history.order_by("pk"))
            assert history[0].from_status == "" and history[0].to_status == "open"
            for before, after in itertools.pairwise(history):
                assert after.from_status == before.to_status
            assert history[-1].to_status == question.status
            if any(entry.cause == StatusChange.Cause.REVIEW for entry in history):
                continue
            votes = question.votes.counted().order_by("pk").values_list("answer__text", "invalid")
            outcome = rules.vote_outcome([None if bad else text for text, bad in votes], LIMITS)
            assert outcome.status == question.status
            accepted = question.accepted_answer.text if question.accepted_answer else None
            assert outcome.answer == accepted
            decisions = [entry for entry in history if entry.to_status != "open"]
            assert len(decisions) <= 1, "a question is decided by its votes at most once"


@pytest.mark.django_db
@pytest.mark.slow
def test_random_sequences_of_use_cases_keep_every_rule(catalogue):
    run_state_machine_as_test(
        CollectionMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
