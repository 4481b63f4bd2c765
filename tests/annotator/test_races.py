"""Races on real PostgreSQL: threads released together by a barrier, then the database checked.

Each scenario runs several rounds, so different interleavings get their chance.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from annotator import errors, rules, services
from annotator.models import Question, QuestionTemplate, StatusChange, Vote
from annotator.rules import Limits
from tests.annotator.helpers import ask, legal_slots, playing, video_make, watched

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def create_call(annotator, video, template_id, session):
    template = QuestionTemplate.objects.get(pk=template_id)
    slots = legal_slots(template)
    return lambda: services.question_create(
        annotator=annotator,
        video=video,
        template=template,
        slot_values=slots,
        watch_session=session,
    )


def vote_call(annotator, question, answer, session):
    return lambda: services.vote_cast(
        annotator=annotator, question=question, answer=answer, watch_session=session
    )


def kinds(results: list[object]) -> Counter:
    return Counter(type(result).__name__ for result in results)


def test_two_annotators_race_for_the_last_slot(make_annotator):
    racers = [make_annotator("racer1"), make_annotator("racer2")]
    for round_number in range(ROUNDS):
        video = video_make()
        for index in range(4):
            ask(make_annotator(f"asker{round_number}-{index}"), video, template_id=index + 1)
        sessions = [watched(racer, video) for racer in racers]
        results = race(
            create_call(racers[0], video, 10, sessions[0]),
            create_call(racers[1], video, 11, sessions[1]),
        )
        assert kinds(results) == Counter({"Question": 1, "VideoFull": 1}), results
        assert Question.objects.filter(video=video).live().count() == 5
        consumed = [
            session.__class__.objects.get(pk=session.pk).consumed_at for session in sessions
        ]
        assert sum(value is not None for value in consumed) == 1, "the loser keeps its viewing"


def test_two_annotators_race_for_the_same_template(make_annotator):
    racers = [make_annotator("racer1"), make_annotator("racer2")]
    for _ in range(ROUNDS):
        video = video_make()
        sessions = [watched(racer, video) for racer in racers]
        results = race(
            create_call(racers[0], video, 29, sessions[0]),
            create_call(racers[1], video, 29, sessions[1]),
        )
        assert kinds(results) == Counter({"Question": 1, "TemplateTaken": 1}), results
        assert Question.objects.filter(video=video, template_id=29).count() == 1


def _assert_decided_once(question: Question, answer: str) -> None:
    question.refresh_from_db()
    assert question.status == "accepted"
    assert question.accepted_answer.text == answer
    assert StatusChange.objects.filter(question=question, to_status="accepted").count() == 1
    counted = question.votes.counted().order_by("pk").values_list("answer__text", flat=True)
    assert rules.vote_outcome(list(counted), Limits()) == rules.Outcome("accepted", answer)


def test_three_voters_race_and_the_question_is_accepted_exactly_once(make_annotator):
    asker = make_annotator("asker")
    voters = [make_annotator(f"voter{index}") for index in range(3)]
    for _ in range(ROUNDS):
        video = video_make()
        question = ask(asker, video, template_id=1)
        sessions = [watched(voter, video) for voter in voters]
        results = race(
            vote_call(voters[0], question, "yes", sessions[0]),
            vote_call(voters[1], question, "no", sessions[1]),
            vote_call(voters[2], question, "yes", sessions[2]),
        )
        # "yes" always reaches two; "no" is counted only if it came before the second "yes".
        assert set(kinds(results)) <= {"Vote", "QuestionClosed"}, results
        _assert_decided_once(question, "yes")
        assert Vote.objects.filter(question=question).count() == kinds(results)["Vote"]


def test_three_voters_agreeing_at_once_store_two_votes(make_annotator):
    asker = make_annotator("asker")
    voters = [make_annotator(f"voter{index}") for index in range(3)]
    for _ in range(ROUNDS):
        video = video_make()
        question = ask(asker, video, template_id=1)
        sessions = [watched(voter, video) for voter in voters]
        results = race(
            *(vote_call(v, question, "no", s) for v, s in zip(voters, sessions, strict=True))
        )
        assert kinds(results) == Counter({"Vote": 2, "QuestionClosed": 1}), results
        _assert_decided_once(question, "no")


def test_the_same_voter_submitting_twice_with_one_viewing(make_annotator):
    asker, voter = make_annotator("asker"), make_annotator("voter")
    for _ in range(ROUNDS):
        question = ask(asker, video_make(), template_id=1)
        session = watched(voter, question.video)
        results = race(
            vote_call(voter, question, "yes", session), vote_call(voter, question, "no", session)
        )
        assert kinds(results)["Vote"] == 1, results
        refusal = next(result for result in results if isinstance(result, Exception))
        assert isinstance(refusal, errors.AlreadyVoted | errors.WatchSessionConsumed), refusal
        assert Vote.objects.filter(question=question, annotator=voter).count() == 1


def test_the_same_voter_submitting_twice_with_two_viewings(make_annotator):
    asker, voter = make_annotator("asker"), make_annotator("voter")
    for _ in range(ROUNDS):
        question = ask(asker, video_make(), template_id=1)
        sessions = [watched(voter, question.video) for _ in range(2)]
        results = race(
            vote_call(voter, question, "yes", sessions[0]),
            vote_call(voter, question, "yes", sessions[1]),
        )
        assert kinds(results) == Counter({"Vote": 1, "AlreadyVoted": 1}), results
        assert Vote.objects.filter(question=question, annotator=voter).count() == 1


def test_concurrent_heartbeats_share_the_real_seconds(make_annotator):
    viewer = make_annotator("viewer")
    session = services.watch_start(annotator=viewer, video=video_make())
    time.sleep(1.0)
    results = race(
        *(
            lambda: services.watch_heartbeat(
                annotator=viewer, watch_session=session, heartbeat=playing(50.0)
            )
            for _ in range(12)
        )
    )
    assert kinds(results) == Counter({"WatchSession": 12}), results
    session.refresh_from_db()
    wall = (session.last_heartbeat_at - session.started_at).total_seconds()
    assert session.heartbeats == 12
    assert 0 < session.credited_seconds <= wall
    assert session.credited_seconds < 3, "twelve heartbeats did not multiply the time"


def test_parallel_viewings_of_one_person_share_the_real_seconds(make_annotator, settings):
    """Eight tabs heartbeating at once for two real seconds: about two seconds credited in all
    (before: about two each, so eight submissions in the time of one)."""
    annotator = make_annotator("eight-tabs")
    sessions = [services.watch_start(annotator=annotator, video=video_make()) for _ in range(8)]
    started = time.monotonic()

    def play(session):
        def call():
            nonlocal session
            while (elapsed := time.monotonic() - started) < 2.0:
                time.sleep(0.2)
                session = services.watch_heartbeat(
                    annotator=annotator, watch_session=session, heartbeat=playing(elapsed + 0.2)
                )
            return session

        return call

    results = race(*(play(session) for session in sessions))
    wall = time.monotonic() - started
    assert all(not isinstance(result, Exception) for result in results), results
    credited = [result.credited_seconds for result in results]
    assert sum(credited) <= wall + 0.05, credited
    assert sum(credited) >= 1.0, credited  # the person's seconds are still credited
