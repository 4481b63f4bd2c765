"""Video streaming: signed-in annotators and reviewers only, with byte ranges for seeking."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from annotator.models import Video

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def stored(db, catalogue):
    video = Video(avqa_id="stream01", duration_seconds=60)
    video.file.save("stream01.mp4", ContentFile(CONTENT), save=True)
    return video


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def url(video):
    return reverse("video-stream", args=[video.pk])


def test_the_whole_file_advertises_ranges(client, annotator, stored):
    client.force_login(annotator)
    response = client.get(url(stored))
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4" and body(response) == CONTENT


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239),
     ("bytes=10200-99999", 10200, 10239)],
)  # fmt: skip
def test_byte_ranges_are_served_partially(client, annotator, stored, header, start, end):
    client.force_login(annotator)
    response = client.get(url(stored), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert body(response) == CONTENT[start : end + 1]


def test_an_unsatisfiable_range_is_416(client, annotator, stored):
    client.force_login(annotator)
    response = client.get(url(stored), HTTP_RANGE="bytes=20000-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_strangers_and_withdrawn_videos_get_nothing(client, outsider, annotator, reviewer, stored):
    assert client.get(url(stored)).status_code == 302  # to the sign-in page
    client.force_login(outsider)
    assert client.get(url(stored)).status_code == 404
    Video.objects.filter(pk=stored.pk).update(is_active=False)
    client.force_login(annotator)
    assert client.get(url(stored)).status_code == 404
    client.force_login(reviewer)
    assert client.get(url(stored)).status_code == 200
