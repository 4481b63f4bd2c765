"""Schema-driven fuzzing of the whole API: whatever a client sends, never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from tests.annotator.helpers import ask, video_make, watched

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly fires request signals that close the database connection;
    Django's test client disconnects them for the same reason, so do that here too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(make_annotator) -> str:
    """An annotator's token, with a video, a viewing and someone else's question to aim at."""
    annotator = make_annotator("fuzzer")
    video = video_make()
    watched(annotator, video)
    ask(make_annotator("asker"), video, template_id=1)
    return Token.objects.create(user=annotator).key


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db
def test_the_api_never_answers_with_a_server_error(case, token):
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=[not_a_server_error])
