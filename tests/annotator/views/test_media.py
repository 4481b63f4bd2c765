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
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ],
)
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


@pytest.mark.slow
def test_gunicorn_sends_exactly_the_range_asked_for(transactional_db, catalogue, settings, client):
    """Under gunicorn, ranges go out with sendfile from the right offset and stop at their end
    (a player reading a clip in parts gets each part, nothing more)."""
    import os
    import socket
    import sys

    import requests

    from annotator import accounts
    from tests import processes
    from tests.conftest import database_url_for_subprocess

    content = os.urandom(300_000)
    video = Video(avqa_id="stream02", duration_seconds=60)
    video.file.save("stream02.mp4", ContentFile(content), save=True)
    annotator = accounts.annotator_create(username="viewer", password="a-long-test-password")
    client.force_login(annotator)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REDIS_URL": "",
    }
    server = processes.start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        processes.wait_until(lambda: requests.get(f"{base}/healthz", timeout=2).ok, timeout=60)
        cookies = {"sessionid": client.cookies["sessionid"].value}
        for start, end in ((0, 65_535), (100_000, 199_999), (250_000, 299_999)):
            response = requests.get(
                f"{base}{url(video)}", cookies=cookies, headers={"Range": f"bytes={start}-{end}"}
            )
            assert response.status_code == 206
            assert response.headers["Content-Length"] == str(end - start + 1)
            assert response.content == content[start : end + 1]
        assert requests.get(f"{base}{url(video)}", cookies=cookies).content == content
        # Read to the end of the connection: not a byte past the range follows the body.
        with socket.create_connection(("127.0.0.1", port)) as raw:
            request = (
                f"GET {url(video)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Cookie: sessionid={cookies['sessionid']}\r\nRange: bytes=1000-1999\r\n\r\n"
            )
            raw.sendall(request.encode())
            received = b"".join(iter(lambda: raw.recv(65536), b""))
        assert received.split(b"\r\n\r\n", 1)[1] == content[1000:2000]
    finally:
        processes.stop(server)


def test_behind_the_proxy_the_view_checks_and_names_the_file(
    client, settings, annotator, outsider, stored
):
    settings.MEDIA_ACCEL_REDIRECT = "/_protected/media/"
    client.force_login(annotator)
    response = client.get(url(stored), HTTP_RANGE="bytes=0-99")
    # nginx sends the file and answers the range; gunicorn sends no byte of it.
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_protected/media/{stored.file.name}"
    assert response["Content-Type"] == "video/mp4"
    client.force_login(outsider)
    response = client.get(url(stored))
    assert response.status_code == 404 and not response.has_header("X-Accel-Redirect")


def test_a_file_name_is_quoted_for_the_proxy(client, settings, annotator, catalogue):
    settings.MEDIA_ACCEL_REDIRECT = "/_protected/media/"
    video = Video(avqa_id="stream02", duration_seconds=60)
    video.file.save("a clip?#1.mp4", ContentFile(CONTENT), save=True)
    client.force_login(annotator)
    redirect = client.get(url(video))["X-Accel-Redirect"]
    assert redirect.startswith("/_protected/media/") and " " not in redirect
    assert "?" not in redirect and "#" not in redirect
