"""The annotators' and reviewers' forms take hostile values (huge or negative ids, NUL bytes,
markup, wrong types) as refusals or no-ops: never a 500, and nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.annotator.helpers import ask, snapshot, video_make, watched

HOSTILE = [
    "",
    "-1",
    "0",
    "9" * 40,
    "2147483648",
    "1e9",
    "1.5",
    "\x00",
    "null",
    "[]",
    "<script>alert(1)</script>",
    "🎻" * 500,
    "x" * 20_000,
]
FORMS = {
    "ask": ["watch_session", "template", "slot"],
    "ask-skip": ["video"],
    "answer": ["watch_session", "question", "answer", "invalid"],
    "answer-skip": ["question"],
}


@pytest.fixture
def annotator_client(client, annotator, other_annotator):
    video = video_make()
    watched(annotator, video)
    ask(other_annotator, video, template_id=1)
    client.force_login(annotator)
    return client


@pytest.mark.parametrize("name", FORMS)
@pytest.mark.slow
def test_hostile_form_values_are_refused_cleanly(annotator_client, name):
    before = snapshot()
    for value in HOSTILE:
        data = {field: value for field in FORMS[name]}
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = annotator_client.post(reverse(name), data, **headers)
            assert response.status_code < 500, (name, value, response.status_code)
        for page in ("ask", "answer", "home"):  # what a skipped or refused id leads to next
            assert annotator_client.get(reverse(page)).status_code == 200
        query = {"session": value, "template": value, "part": "form"}
        assert annotator_client.get(reverse("ask"), query).status_code < 500
    # Opening the pages starts viewings; nothing else may change.
    after = snapshot()
    del before["WatchSession"], after["WatchSession"]
    assert after == before


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("review-queue", ["\x00"]),
        ("review-queue", ["<script>"]),
        ("review-queue", [".."]),
        ("review-question", [9 * 10**30]),
        ("review-frame", [9 * 10**30, 0]),
        ("review-frame", [1, 9 * 10**30]),
        ("video-stream", [9 * 10**30]),
    ],
)
def test_hostile_ids_in_review_and_video_urls_are_404(client, reviewer, name, args):
    client.force_login(reviewer)
    assert client.get(reverse(name, args=args)).status_code == 404
