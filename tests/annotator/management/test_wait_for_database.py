"""wait_for_database: returns when the database answers, fails clearly when it never does."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection


@pytest.mark.django_db
def test_it_returns_at_once_when_the_database_answers():
    call_command("wait_for_database", "--seconds", "5", stderr=io.StringIO())


@pytest.mark.django_db
def test_it_retries_then_gives_up_naming_the_error(monkeypatch):
    tries = []

    def refused():
        tries.append(1)
        raise OperationalError('could not translate host name "postgres" to address')

    monkeypatch.setattr(connection, "ensure_connection", refused)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    err = io.StringIO()
    with pytest.raises(CommandError, match="did not answer in 0 s: could not translate host"):
        call_command("wait_for_database", "--seconds", "0", stderr=err)
    assert len(tries) == 1 and not err.getvalue()
