"""Review: staff decide disputed questions and correct others, every decision in the audit trail."""

from __future__ import annotations

import pytest

from annotator import counts, errors, services
from annotator.models import QuestionStatus, StatusChange
from tests.annotator.helpers import ask, refused, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def voters(make_annotator):
    return [make_annotator(f"voter{index}") for index in range(6)]


@pytest.fixture
def disputed(annotator, video, voters):
    question = ask(annotator, video, template_id=2)
    for voter, answer in zip(voters, ["one", "two", "three", "four", "five"], strict=False):
        vote(voter, question, answer)
    question.refresh_from_db()
    assert question.status == QuestionStatus.DISPUTED
    return question


def review(reviewer, question, action, answer=None, note=""):
    return services.question_review(
        reviewer=reviewer, question=question, action=action, answer=answer, note=note
    )


def test_a_reviewer_accepts_a_disputed_question(reviewer, disputed):
    question = review(reviewer, disputed, services.ACCEPT, "two", note="two players visible")
    question.refresh_from_db()
    assert (question.status, question.accepted_answer.text) == ("accepted", "two")
    entry = StatusChange.objects.filter(question=question).last()
    assert (entry.from_status, entry.to_status, entry.cause, entry.actor, entry.note) == (
        "disputed",
        "accepted",
        "review",
        reviewer,
        "two players visible",
    )


def test_a_reviewer_overrides_an_accepted_answer(reviewer, annotator, video, voters):
    question = ask(annotator, video, template_id=1)
    vote(voters[0], question, "yes")
    vote(voters[1], question, "yes")
    review(reviewer, question, services.ACCEPT, "no")
    question.refresh_from_db()
    assert question.accepted_answer.text == "no"


def test_reopening_discounts_the_votes_so_far(reviewer, disputed, voters):
    review(reviewer, disputed, services.REOPEN)
    disputed.refresh_from_db()
    assert disputed.status == QuestionStatus.OPEN
    assert not disputed.votes.counted().exists()
    assert disputed.counted_votes == 0
    assert disputed.votes.count() == 5, "discounted votes stay on record"
    vote(voters[5], disputed, "two")
    disputed.refresh_from_db()
    assert disputed.status == QuestionStatus.OPEN, "one fresh vote does not decide"
    assert disputed.counted_votes == 1
    assert counts.drift() == []


def test_invalidating_frees_the_slot_and_template(reviewer, disputed, make_annotator):
    review(reviewer, disputed, services.INVALIDATE)
    disputed.refresh_from_db()
    assert disputed.status == QuestionStatus.INVALID
    assert ask(make_annotator("newcomer"), disputed.video, template_id=2).is_live


def test_reviving_an_invalid_question_respects_q2(reviewer, disputed, make_annotator):
    review(reviewer, disputed, services.INVALIDATE)
    ask(make_annotator("newcomer"), disputed.video, template_id=2)
    refusal = refused(errors.TemplateTaken, lambda: review(reviewer, disputed, services.REOPEN))
    assert refusal.message == errors.TEMPLATE_TAKEN


def test_keep_confirms_a_decided_question(reviewer, annotator, video, voters):
    question = ask(annotator, video, template_id=1)
    vote(voters[0], question, "yes")
    vote(voters[1], question, "yes")
    review(reviewer, question, services.KEEP, note="checked")
    entry = StatusChange.objects.filter(question=question).last()
    assert (entry.from_status, entry.to_status, entry.note) == ("accepted", "accepted", "checked")


def test_keep_is_refused_for_an_undecided_question(reviewer, disputed):
    refusal = refused(errors.ReviewInvalid, lambda: review(reviewer, disputed, services.KEEP))
    assert refusal.message == errors.REVIEW_KEEP_UNDECIDED


def test_a_review_that_changes_nothing_is_refused(reviewer, disputed):
    review(reviewer, disputed, services.INVALIDATE)
    refusal = refused(errors.ReviewInvalid, lambda: review(reviewer, disputed, services.INVALIDATE))
    assert refusal.message == errors.REVIEW_NO_CHANGE.format(status="invalid")


def test_accept_needs_an_answer_of_the_templates_kind(reviewer, disputed):
    refused(errors.ReviewInvalid, lambda: review(reviewer, disputed, services.ACCEPT))
    refused(errors.AnswerNotAllowed, lambda: review(reviewer, disputed, services.ACCEPT, "yes"))


def test_an_unknown_action_is_refused(reviewer, disputed):
    refusal = refused(errors.ReviewInvalid, lambda: review(reviewer, disputed, "delete"))
    assert "Unknown review action 'delete'" in refusal.message


def test_only_staff_review(annotator, disputed):
    refusal = refused(errors.NotAReviewer, lambda: review(annotator, disputed, services.INVALIDATE))
    assert refusal.message == errors.NOT_A_REVIEWER
