"""PostgreSQL drops the connection in the middle of a write (a restart, a failover): the
client gets a clean 503 in the API's error shape, nothing of the half-done use case is left,
and the next request works on a new connection.

The database and the kill are real: the request's own backend is terminated from a second
connection, between two writes of one use case (found through a seam the use case calls).
"""

from __future__ import annotations

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator import services
from annotator.api.errors import DATABASE_UNAVAILABLE
from annotator.models import Question, QuestionStatus
from tests.annotator.helpers import ask, snapshot, vote, watched

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate_own_backend() -> None:
    """Kill the server process behind this thread's connection, as a database restart would,
    and wait (PostgreSQL 14+) until it is gone."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone()[0], f"backend {pid} survived"
    finally:
        other.close()


def _killed_before(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the service helper `name` lose its connection the first time it is called."""
    original = getattr(services, name)

    def killed_then_called(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(services, name, original)
        _terminate_own_backend()
        return original(*args, **kwargs)

    monkeypatch.setattr(services, name, killed_then_called)


def _client(user: object) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _assert_clean_503(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": DATABASE_UNAVAILABLE,
        "code": "DatabaseUnavailable",
        "rule": "",
    }


def test_a_vote_that_would_accept_loses_its_connection(monkeypatch, make_annotator, video):
    alice, bob, carol = (make_annotator(name) for name in ("alice", "bob", "carol"))
    question = ask(alice, video)
    answer = question.template.answers[0]
    vote(bob, question, answer)
    session = watched(carol, video)
    body = {"watch_session": session.pk, "answer": answer}
    client = _client(carol)
    before = snapshot()
    # Carol's vote is the accepting one: by the time the question's status is set, her watch
    # session is consumed and her vote inserted, all in one transaction.
    _killed_before(monkeypatch, "_status_set")

    _assert_clean_503(client.post(f"/api/questions/{question.pk}/votes/", body, format="json"))

    assert snapshot() == before
    response = client.post(f"/api/questions/{question.pk}/votes/", body, format="json")
    assert response.status_code == 201, response.content
    question.refresh_from_db()
    assert question.status == QuestionStatus.ACCEPTED
    assert question.accepted_answer.text == answer


def test_a_new_question_loses_its_connection(monkeypatch, make_annotator, video):
    from annotator.models import QuestionTemplate
    from tests.annotator.helpers import legal_slots

    alice = make_annotator("alice")
    template = QuestionTemplate.objects.get(pk=1)
    session = watched(alice, video)
    body = {
        "video": video.pk,
        "template": template.pk,
        "slot_values": legal_slots(template),
        "watch_session": session.pk,
    }
    client = _client(alice)
    before = snapshot()
    # Killed after the watch session is consumed, before the question is inserted.
    _killed_before(monkeypatch, "_insert")

    _assert_clean_503(client.post("/api/questions/", body, format="json"))

    assert snapshot() == before
    response = client.post("/api/questions/", body, format="json")
    assert response.status_code == 201, response.content
    assert Question.objects.get().status == QuestionStatus.OPEN
