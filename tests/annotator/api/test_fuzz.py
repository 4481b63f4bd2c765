"""Schema-driven fuzzing of the whole API: whatever a client sends, never a 5xx."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from annotator import accounts
from annotator.api import urls as api_urls
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


@pytest.fixture(params=["annotator", "worker"])
def token(request, make_annotator) -> str:
    """An annotator's token, with a video, a viewing and someone else's question to aim at; or
    the gpu worker's, which the annotator API refuses and the worker API opens."""
    annotator = make_annotator("fuzzer")
    video = video_make()
    watched(annotator, video)
    ask(make_annotator("asker"), video, template_id=1)
    if request.param == "worker":
        return accounts.model_worker_token()
    return Token.objects.create(user=annotator).key


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db
@pytest.mark.slow
def test_the_api_never_answers_with_a_server_error(case, token):
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=[not_a_server_error])


# --- hostile values, by hand, on every route ---------------------------------------------------
#
# Schemathesis sends what the schema allows and a little around it; these are the values an
# attacker picks on purpose, sent to every route of annotator/api/urls.py (a route added later is
# covered without touching this file) as an annotator, as the gpu worker and as no one.

HOSTILE_IDS = [
    "0",
    "-1",
    "2147483648",
    "9223372036854775808",
    "9" * 40,
    "%00",
    "1%00",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "%C3%A9t%C3%A9",
    "%F0%9F%8E%BB",
    "null",
]
HOSTILE_VALUES = [
    None,
    True,
    -1,
    2**63,
    1e308,
    "",
    "x" * 100_000,
    "\x00",
    "\ud800",
    "<script>alert(1)</script>",
    "🎻" * 1000,
    [],
    {},
    [[[[[]]]]],
    {"$gt": ""},
]
DEEP_JSON = "[" * 50_000 + "]" * 50_000


def _routes() -> list[tuple[str, str]]:
    """(route pattern, HTTP method) for every method every API route answers."""
    routes = []
    for pattern in api_urls.urlpatterns:
        view = pattern.callback.cls
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                routes.append((str(pattern.pattern), method))
    return routes


ROUTES = _routes()


def _paths(route: str) -> list[str]:
    """The route with each hostile id in place of its parameters (as is when it has none)."""
    if "<" not in route:
        return ["/api/" + route]
    return ["/api/" + re.sub(r"<[^>]+>", value, route) for value in HOSTILE_IDS]


def _bodies() -> list[tuple[str, str]]:
    """(body, content type) pairs: wrong JSON types in every field a serializer might read,
    a body nested deeper than the parser recurses, one over the size limit, and non-JSON."""
    fields = [
        "video",
        "template",
        "slot_values",
        "watch_session",
        "answer",
        "position",
        "playing",
        "visible",
        "muted",
        "rate",
        "ok",
        "error",
        "stage",
        "predictions",
        "result",
        "username",
        "password",
    ]
    bodies = [
        (json.dumps({f: value for f in fields}), "application/json") for value in HOSTILE_VALUES
    ]
    bodies += [(json.dumps(value), "application/json") for value in HOSTILE_VALUES[:6]]
    bodies += [
        (DEEP_JSON, "application/json"),
        ("{" + '"a":1,' * 500_000 + '"b":2}', "application/json"),
        ("{not json", "application/json"),
        ("\xff\xfe garbage", "application/json"),
        ("video=1&template=<b>&slot_values=%00", "application/x-www-form-urlencoded"),
        (
            '--x\r\nContent-Disposition: form-data; name="checkpoint"; filename="../../x.pt"'
            "\r\n\r\nboom\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
        ),
    ]
    return bodies


def _assert_refused_cleanly(response, path: str) -> None:
    assert response.status_code < 500, (path, response.status_code, response.content[:300])
    try:
        resolve(unquote(path.split("?")[0]))  # as the server decodes it
    except Resolver404:
        return  # no such route: Django's own 404, never reaching an API view
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()  # a JSON object, never an HTML error page
        assert isinstance(body, dict) and body, (path, body)
        if response.status_code != 400:
            assert isinstance(body.get("detail"), str), (path, body)


@pytest.fixture
def hostile_clients(make_annotator) -> dict[str, APIClient]:
    annotator = make_annotator("fuzzer")
    video = video_make()
    watched(annotator, video)
    ask(make_annotator("asker"), video, template_id=1)
    clients = {"anonymous": APIClient()}
    for name, key in (
        ("annotator", Token.objects.create(user=annotator).key),
        ("worker", accounts.model_worker_token()),
    ):
        clients[name] = APIClient()
        clients[name].credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return clients


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
@pytest.mark.django_db
@pytest.mark.slow
def test_hostile_ids_and_bodies_are_refused_cleanly(route, method, hostile_clients):
    for path in _paths(route):
        for who, client in hostile_clients.items():
            if method in ("get", "delete"):
                for query in ("", "?exclude=" + "9" * 40, "?exclude=-1,%00,<x>", "?page=-1"):
                    response = getattr(client, method)(path + query)
                    _assert_refused_cleanly(response, path)
                continue
            for body, content_type in _bodies():
                response = getattr(client, method)(path, body, content_type=content_type)
                _assert_refused_cleanly(response, path)
            assert who != "anonymous" or response.status_code in (400, 401, 403, 404, 405, 413)


def test_every_api_route_is_fuzzed():
    """A route whose view answers no method would silently escape the test above."""
    assert {route for route, _ in ROUTES} == {str(p.pattern) for p in api_urls.urlpatterns}
