"""Answering: A1–A6, each refusal with its own message and nothing written."""

from __future__ import annotations

import pytest

from annotator import errors, services
from annotator.models import QuestionStatus, StatusChange
from tests.annotator.helpers import ask, refused, vote, watched

pytestmark = pytest.mark.django_db


@pytest.fixture
def question(annotator, video):
    """A yes/no question (template 1) asked by alice."""
    return ask(annotator, video, template_id=1)


@pytest.fixture
def voters(make_annotator):
    return [make_annotator(f"voter{index}") for index in range(6)]


def cast(annotator, question, answer=None, invalid=False, session=None):
    return services.vote_cast(
        annotator=annotator,
        question=question,
        watch_session=session or watched(annotator, question.video),
        answer=answer,
        invalid=invalid,
    )


def test_a3_two_matching_votes_accept_the_answer(question, voters):
    vote(voters[0], question, "yes")
    question.refresh_from_db()
    assert question.status == QuestionStatus.OPEN
    vote(voters[1], question, "yes")
    question.refresh_from_db()
    assert question.status == QuestionStatus.ACCEPTED
    assert question.accepted_answer.text == "yes"
    assert question.decided_at is not None
    entry = StatusChange.objects.filter(question=question).last()
    assert (entry.from_status, entry.to_status, entry.accepted_answer.text, entry.cause) == (
        "open",
        "accepted",
        "yes",
        "votes",
    )
    assert entry.actor == voters[1]


def test_a3_the_first_answer_to_reach_two_wins(question, voters):
    for voter, answer in zip(voters, ["yes", "no", "no"], strict=False):
        vote(voter, question, answer)
    question.refresh_from_db()
    assert question.accepted_answer.text == "no"
    assert StatusChange.objects.filter(question=question, to_status="accepted").count() == 1


def test_the_acceptance_threshold_is_a_setting(question, voters, settings):
    settings.ACCEPT_VOTES = 3
    for voter in voters[:2]:
        vote(voter, question, "yes")
    question.refresh_from_db()
    assert question.status == QuestionStatus.OPEN
    vote(voters[2], question, "yes")
    question.refresh_from_db()
    assert question.status == QuestionStatus.ACCEPTED


def test_a4_an_accepted_question_takes_no_more_votes(question, voters):
    vote(voters[0], question, "yes")
    vote(voters[1], question, "yes")
    session = watched(voters[2], question.video)
    refusal = refused(
        errors.QuestionClosed, lambda: cast(voters[2], question, "no", session=session)
    )
    assert refusal.message == errors.QUESTION_CLOSED["accepted"]


def test_a5_two_invalid_flags_invalidate(question, voters):
    vote(voters[0], question, None)
    vote(voters[1], question, "yes")
    vote(voters[2], question, None)
    question.refresh_from_db()
    assert question.status == QuestionStatus.INVALID
    assert question.accepted_answer is None
    session = watched(voters[3], question.video)
    refusal = refused(
        errors.QuestionClosed, lambda: cast(voters[3], question, "yes", session=session)
    )
    assert refusal.message == errors.QUESTION_CLOSED["invalid"]


def test_a6_no_agreement_after_max_votes_goes_to_a_reviewer(annotator, video, voters):
    question = ask(annotator, video, template_id=2)  # a count: many possible answers
    for voter, answer in zip(voters, ["one", "two", "three", None, "four"], strict=False):
        vote(voter, question, answer)
    question.refresh_from_db()
    assert question.status == QuestionStatus.DISPUTED
    session = watched(voters[5], question.video)
    refusal = refused(
        errors.QuestionClosed, lambda: cast(voters[5], question, "one", session=session)
    )
    assert refusal.message == errors.QUESTION_CLOSED["disputed"]


def test_a2_authors_do_not_answer_their_own_question(question, annotator):
    session = watched(annotator, question.video)
    refusal = refused(errors.OwnQuestion, lambda: cast(annotator, question, "yes", session=session))
    assert refusal.message == errors.OWN_QUESTION


def test_a2_one_vote_per_annotator(question, voters):
    vote(voters[0], question, "yes")
    session = watched(voters[0], question.video)
    refusal = refused(errors.AlreadyVoted, lambda: cast(voters[0], question, "no", session=session))
    assert refusal.message == errors.ALREADY_VOTED


@pytest.mark.parametrize("answer", ["cello", "two", "indoor", "banana", "", "Yes"])
def test_a1_an_answer_outside_the_templates_kind_is_refused(question, voters, answer):
    session = watched(voters[0], question.video)
    refusal = refused(
        errors.AnswerNotAllowed, lambda: cast(voters[0], question, answer, session=session)
    )
    assert refusal.message == errors.ANSWER_NOT_ALLOWED.format(answer=answer, choices="yes, no")
    session.refresh_from_db()
    assert session.consumed_at is None


def test_a1_each_template_admits_exactly_its_kind(annotator, video, voters):
    question = ask(annotator, video, template_id=31)  # left / middle / right / simultaneously
    vote(voters[0], question, "simultaneously")
    session = watched(voters[1], video)
    refused(errors.AnswerNotAllowed, lambda: cast(voters[1], question, "yes", session=session))


@pytest.mark.parametrize(("answer", "invalid"), [(None, False), ("yes", True)])
def test_a_vote_is_an_answer_or_an_invalid_flag(question, voters, answer, invalid):
    session = watched(voters[0], question.video)
    refusal = refused(
        errors.VoteEmpty,
        lambda: cast(voters[0], question, answer, invalid=invalid, session=session),
    )
    assert refusal.message == errors.VOTE_EMPTY


def test_w1_a_vote_before_30_seconds_is_refused(question, voters):
    session = watched(voters[0], question.video, seconds=20)
    refusal = refused(
        errors.WatchTooShort, lambda: cast(voters[0], question, "yes", session=session)
    )
    assert "20.0 seconds have been counted" in refusal.message


def test_w1_a_viewing_unlocks_one_vote(annotator, video, voters):
    first = ask(annotator, video, template_id=1)
    second = ask(voters[5], video, template_id=7)
    session = watched(voters[0], video)
    cast(voters[0], first, "yes", session=session)
    refused(errors.WatchSessionConsumed, lambda: cast(voters[0], second, "yes", session=session))


def test_only_annotators_vote(question, outsider, voters):
    session = watched(voters[0], question.video)
    refused(errors.NotAnAnnotator, lambda: cast(outsider, question, "yes", session=session))


def test_votes_on_a_withdrawn_video_are_refused(question, voters):
    session = watched(voters[0], question.video)
    question.video.is_active = False
    question.video.save()
    refused(errors.VideoInactive, lambda: cast(voters[0], question, "yes", session=session))
