"""The qualification round: a new annotator answers gold questions first, and their answers to
other questions count only once they pass; failing stops the work; too little gold waives it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import errors, selectors, services
from annotator.models import QuestionStatus, Vote
from annotator.qualification import qualification_of, qualifications_of
from tests.annotator.helpers import ask, video_make, vote

ROUND = 3


@pytest.fixture
def golds(make_annotator, reviewer, settings):
    """Three accepted yes/no questions ("yes"), made gold, and one open question."""
    settings.QUALIFICATION_QUESTIONS, settings.QUALIFICATION_PASS = ROUND, 0.66
    alice, bob, carol = (make_annotator(n) for n in ("alice", "bob", "carol"))
    made = []
    for _ in range(ROUND):
        question = ask(alice, video_make(), template_id=1)
        vote(bob, question, "yes")
        vote(carol, question, "yes")
        question.refresh_from_db()
        services.question_gold_set(reviewer=reviewer, question=question, gold=True)
        made.append(question)
    open_one = ask(alice, video_make(), template_id=2)
    return made, open_one


def test_a_new_annotator_qualifies_on_gold_before_their_answers_count(golds, make_annotator):
    gold, open_one = golds
    dave = make_annotator("dave")
    standing = qualification_of(dave)
    assert (standing.state, standing.done, standing.required, standing.pass_mark) == (
        "qualifying",
        0,
        3,
        2,
    )
    # Only gold is offered, and an ordinary vote is refused (its answer would count).
    assert selectors.next_question_to_answer(dave) == gold[0]
    with pytest.raises(errors.NotQualified, match="0 of its 3 questions answered"):
        vote(dave, open_one, "two")
    # Two right of three: passed. Gold answers never change the questions.
    for question, answer in zip(gold, ("yes", "no", "yes"), strict=True):
        assert selectors.next_question_to_answer(dave) == question
        vote(dave, question, answer)
    assert qualification_of(dave).state == "passed"
    assert all(q.status == QuestionStatus.ACCEPTED for q in gold)
    assert selectors.next_question_to_answer(dave) == open_one
    assert not vote(dave, open_one, "two").gold_check  # counted now


def test_failing_the_round_stops_the_work(golds, make_annotator):
    gold, open_one = golds
    erin = make_annotator("erin")
    for question in gold:
        vote(erin, question, "no")
    standing = qualification_of(erin)
    assert (standing.state, standing.correct) == ("failed", 0)
    assert selectors.next_question_to_answer(erin) is None
    with pytest.raises(errors.NotQualified, match="0 of 3 right"):
        vote(erin, open_one, "two")
    assert not Vote.objects.filter(annotator=erin, gold_check=False).exists()


def test_too_little_gold_waives_the_round_and_none_turns_it_off(make_annotator, settings, reviewer):
    settings.QUALIFICATION_QUESTIONS = 3
    alice, bob = make_annotator("alice"), make_annotator("bob")
    open_one = ask(alice, video_make(), template_id=2)
    assert qualification_of(bob).state == "waived"  # no gold at all: the round cannot run
    assert selectors.next_question_to_answer(bob) == open_one
    assert vote(bob, open_one, "two")
    settings.QUALIFICATION_QUESTIONS = 0
    assert qualification_of(bob).state == "off"


def test_the_pages_explain_the_round(golds, make_annotator, client, admin_client):
    gold, _ = golds
    dave = make_annotator("dave")
    client.force_login(dave)
    home = client.get(reverse("home")).content.decode()
    assert "answer 3 qualification questions whose answers are known" in home
    page = client.get(reverse("answer")).content.decode()
    assert "Qualification question 1 of 3" in page and gold[0].text in page
    # The admin sees who qualified and how.
    for question in gold:
        vote(dave, question, "yes")
    assert qualifications_of([dave])[dave.pk].state == "passed"
    listing = admin_client.get(reverse("admin:annotator_annotator_changelist")).content.decode()
    assert "passed (3 of 3 right)" in listing
