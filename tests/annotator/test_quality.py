"""Annotator quality for staff: agreement with accepted answers, invalid flags, watch time, pace;
and deactivating a careless annotator, whose votes are discounted and questions re-evaluated."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator import counts, errors, selectors, services
from annotator.models import Annotator, QuestionStatus, StatusChange
from tests.annotator.helpers import ask, video_make, vote


@pytest.fixture
def crowd(make_annotator):
    """alice asks three yes/no questions; bob, carol and dave answer."""
    people = {name: make_annotator(name) for name in ("alice", "bob", "carol", "dave")}
    video = video_make()
    q1, q2, q3 = (ask(people["alice"], video, template_id=t) for t in (1, 3, 4))
    vote(people["bob"], q1, "yes")
    vote(people["carol"], q1, "yes")  # accepted: yes
    vote(people["bob"], q2, "no")
    vote(people["dave"], q2, "yes")
    vote(people["carol"], q2, "yes")  # accepted: yes (bob disagreed)
    vote(people["dave"], q3, None)  # an invalid flag
    for question in (q1, q2, q3):
        question.refresh_from_db()
    return people, (q1, q2, q3)


def stats(username: str) -> selectors.AnnotatorStatistics:
    annotator = Annotator.objects.get(username=username)
    return selectors.annotator_statistics([annotator])[annotator.pk]


def test_agreement_invalid_flags_watch_time_and_pace(crowd):
    bob, carol, dave, alice = (stats(name) for name in ("bob", "carol", "dave", "alice"))
    assert (bob.votes, bob.on_accepted, bob.agreed) == (2, 2, 1)
    assert (carol.on_accepted, carol.agreed) == (2, 2)
    assert (dave.votes, dave.invalid_flags) == (2, 1)
    assert (alice.asked, alice.votes, alice.votes_per_hour) == (3, 0, None)
    assert bob.median_watch_seconds == pytest.approx(30.0)
    assert bob.votes_per_hour > 0
    assert alice.median_watch_seconds == pytest.approx(30.0)


def test_the_list_counts_sort_without_joining_everyones_rows(crowd):
    listed = selectors.annotators_with_counts(Annotator.objects.all()).order_by("-vote_count", "pk")
    assert [(a.username, a.asked, a.vote_count) for a in listed] == [
        ("bob", 0, 2),
        ("carol", 0, 2),
        ("dave", 0, 2),
        ("alice", 3, 0),
    ]


def test_statistics_of_a_page_take_three_queries_however_many_rows(
    crowd, django_assert_num_queries
):
    annotators = list(Annotator.objects.all())
    with django_assert_num_queries(3):
        statistics = selectors.annotator_statistics(annotators)
    assert len(statistics) == 4


@pytest.mark.slow
def test_the_admin_list_costs_no_queries_per_annotator(crowd, make_annotator, admin_client):
    def queries_of_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(reverse("admin:annotator_annotator_changelist"))
        assert response.status_code == 200
        return len(queries)

    four = queries_of_the_list()
    for number in range(6):
        ask(make_annotator(f"newcomer{number}"), video_make(), template_id=1)
    assert queries_of_the_list() == four


def test_deactivating_discounts_votes_and_reevaluates(crowd, reviewer):
    people, (q1, q2, q3) = crowd
    outcome = services.annotator_deactivate(annotator=people["carol"], by=reviewer)
    assert outcome == {"votes_discounted": 2, "questions_changed": 2, "questions_kept": 0}
    for question in (q1, q2):
        question.refresh_from_db()
        assert (question.status, question.accepted_answer) == (QuestionStatus.OPEN, None)
        change = question.history.last()
        assert (
            change.cause == StatusChange.Cause.VOTES and "without the votes of carol" in change.note
        )
    people["carol"].refresh_from_db()
    assert not people["carol"].is_active
    q3.refresh_from_db()
    assert q3.status == QuestionStatus.OPEN  # untouched: carol never voted on it
    assert counts.drift() == []  # her discounted votes no longer count, nor hold their slots


def test_a_reviewers_decision_stands(crowd, reviewer):
    people, (q1, _, _) = crowd
    services.question_review(reviewer=reviewer, question=q1, action="keep")
    outcome = services.annotator_deactivate(annotator=people["carol"], by=reviewer)
    assert outcome["questions_kept"] == 1
    q1.refresh_from_db()
    assert q1.status == QuestionStatus.ACCEPTED


def test_only_reviewers_deactivate(crowd):
    people, _ = crowd
    with pytest.raises(errors.NotAReviewer):
        services.annotator_deactivate(annotator=people["carol"], by=people["bob"])
    people["carol"].refresh_from_db()
    assert people["carol"].is_active


def test_the_admin_lists_statistics_and_runs_the_action(crowd, admin_client):
    page = admin_client.get(reverse("admin:annotator_annotator_changelist")).content.decode()
    assert "50% of 2" in page and "100% of 2" in page
    carol = Annotator.objects.get(username="carol")
    admin_client.post(
        reverse("admin:annotator_annotator_changelist"),
        {"action": "deactivate_and_discount", "_selected_action": [carol.pk]},
    )
    carol.refresh_from_db()
    assert not carol.is_active
