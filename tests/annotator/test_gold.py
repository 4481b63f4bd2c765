"""Gold questions: accepted questions offered again, unknowingly; the answers measure
annotators and never change the question; a bar stops offering work to the careless."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import errors, selectors, services
from annotator.models import QuestionStatus, Vote
from tests.annotator.helpers import ask, video_make, vote, watched


@pytest.fixture
def gold(make_annotator, reviewer):
    """An accepted yes/no question ("yes"), made gold, and two fresh annotators."""
    alice, bob, carol = (make_annotator(n) for n in ("alice", "bob", "carol"))
    question = ask(alice, video_make(), template_id=1)
    vote(bob, question, "yes")
    vote(carol, question, "yes")
    question.refresh_from_db()
    services.question_gold_set(reviewer=reviewer, question=question, gold=True)
    question.refresh_from_db()
    return question, make_annotator("dave"), make_annotator("erin")


def test_only_accepted_questions_become_gold(make_annotator, reviewer):
    question = ask(make_annotator("alice"), video_make(), template_id=1)
    with pytest.raises(errors.ReviewInvalid, match="Only an accepted question can be gold"):
        services.question_gold_set(reviewer=reviewer, question=question, gold=True)
    with pytest.raises(errors.NotAReviewer):
        services.question_gold_set(reviewer=question.author, question=question, gold=True)


def test_gold_is_offered_first_and_looks_like_any_question(gold, make_annotator):
    question, dave, _ = gold
    open_one = ask(make_annotator("frank"), video_make(), template_id=2)
    assert selectors.next_question_to_answer(dave) == question
    assert selectors.question_get_for_vote(dave, question.pk) == question
    # Once answered, dave's share of gold checks is met: the open question comes next.
    services.vote_cast(
        annotator=dave, question=question, watch_session=watched(dave, question.video), answer="no"
    )
    assert selectors.next_question_to_answer(dave) == open_one


def test_gold_is_never_offered_when_there_is_no_other_work(gold):
    _, dave, _ = gold
    assert selectors.next_question_to_answer(dave) is None


def test_a_gold_answer_measures_and_never_changes_the_question(gold, make_annotator):
    question, dave, erin = gold
    ask(make_annotator("frank"), video_make(), template_id=2)
    for person in (dave, erin):
        session = watched(person, question.video)
        services.vote_cast(annotator=person, question=question, watch_session=session, answer="no")
    question.refresh_from_db()
    assert (question.status, question.accepted_answer.text) == (QuestionStatus.ACCEPTED, "yes")
    assert Vote.objects.filter(question=question, gold_check=True).count() == 2
    assert question.votes.counted().count() == 2  # the two that accepted it
    assert selectors.gold_accuracy(dave) == (0, 1)
    assert selectors.gold_accuracy(question.votes.get(annotator__username="bob").annotator) == (
        0,
        0,
    )


def test_annotators_under_the_bar_are_offered_nothing(gold, make_annotator, settings, client):
    question, dave, _ = gold
    settings.GOLD_MIN_ACCURACY, settings.GOLD_MIN_CHECKS = 0.8, 1
    ask(make_annotator("frank"), video_make(), template_id=2)
    services.vote_cast(
        annotator=dave, question=question, watch_session=watched(dave, question.video), answer="no"
    )
    assert selectors.below_gold_bar(dave)
    assert selectors.next_question_to_answer(dave) is None
    assert selectors.next_video_to_ask(dave) is None
    client.force_login(dave)
    assert "did not meet the quality bar" in client.get(reverse("home")).content.decode()
    settings.GOLD_MIN_ACCURACY = 0.0  # the bar is off by default
    assert selectors.next_video_to_ask(dave) is not None


def test_leaving_accepted_ends_gold(gold, reviewer):
    question, _, _ = gold
    services.question_review(reviewer=reviewer, question=question, action="reopen")
    question.refresh_from_db()
    assert question.gold_since is None and question.status == QuestionStatus.OPEN


def test_the_admin_marks_gold_and_shows_gold_accuracy(gold, admin_client):
    question, _, _ = gold
    url = reverse("admin:annotator_question_changelist")
    admin_client.post(url, {"action": "gold_unmark", "_selected_action": [question.pk]})
    question.refresh_from_db()
    assert question.gold_since is None
    admin_client.post(url, {"action": "gold_mark", "_selected_action": [question.pk]})
    question.refresh_from_db()
    assert question.gold_since is not None
    page = admin_client.get(reverse("admin:annotator_annotator_changelist")).content.decode()
    assert "Gold accuracy" in page
