"""Request bodies are judged by their declared length before anything reads them; chunked
bodies are refused, not read as empty. Through the test client, and once through gunicorn."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest
import requests
from django.test import Client
from django.urls import reverse

from config.request_limits import LENGTH_REQUIRED, TOO_LARGE
from tests import processes
from tests.annotator.api.conftest import script

HUGE = str(200 * 1024**2)  # declared; the test sends only a few bytes of it
MULTIPART = "multipart/form-data; boundary=xyz"
SLIVER = b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\nabc'


@pytest.fixture
def annotator(db, catalogue):
    from annotator import accounts

    return accounts.annotator_create(username="alice", password="a-long-test-password")


def post_declaring(client, url: str, length: str, **extra):
    return client.generic("POST", url, SLIVER, MULTIPART, CONTENT_LENGTH=length, **extra)


@pytest.mark.django_db
class TestDeclaredLength:
    def test_an_anonymous_200_mb_multipart_is_refused_before_it_is_read(self, settings):
        response = post_declaring(Client(), reverse("api-token"), HUGE)
        assert response.status_code == 413
        limit = settings.REQUEST_MAX_BYTES
        assert response.json() == {
            "detail": TOO_LARGE.format(limit=limit),
            "code": "BodyTooBig",
            "rule": "",
        }
        assert response["Connection"] == "close"

    def test_annotator_endpoints_and_pages_are_capped_too(self, annotator, client):
        api = script(annotator)
        for name in ("api-question-create", "api-watch-start"):
            assert post_declaring(api, reverse(name), HUGE).status_code == 413
        client.force_login(annotator)
        response = post_declaring(client, reverse("ask"), HUGE)
        assert response.status_code == 413 and response["Content-Type"].startswith("text/plain")

    def test_a_body_within_the_cap_is_read_as_usual(self, settings):
        response = Client().post(reverse("api-token"), {"username": "x", "password": "y"})
        assert response.status_code == 400  # wrong credentials, not a refused body

    def test_the_worker_api_and_the_admins_upload_have_their_own_caps(self, settings):
        five_mb = str(5 * 1024**2)
        worker = post_declaring(Client(), reverse("api-worker-dataset"), five_mb)
        assert worker.status_code == 401  # past the size check, refused for its missing token
        settings.WORKER_REQUEST_MAX_BYTES = 1024**2
        assert post_declaring(Client(), reverse("api-worker-dataset"), five_mb).status_code == 413
        upload = post_declaring(Client(), reverse("admin:annotator_video_upload"), HUGE)
        assert upload.status_code == 302  # to the admin's sign-in: its own checks come after

    def test_a_chunked_body_is_refused_with_411(self, annotator):
        api = script(annotator)
        response = api.generic(
            "POST",
            reverse("api-question-create"),
            b"",
            "application/json",
            HTTP_TRANSFER_ENCODING="chunked",
        )
        assert response.status_code == 411
        assert response.json()["detail"] == LENGTH_REQUIRED


@pytest.mark.slow
def test_through_gunicorn_a_huge_declared_body_is_answered_without_waiting_for_it(tmp_path):
    """If the body were read, the server would wait for the 200 MB that never come."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    environment.update(AVQA_VAR_DIR=str(tmp_path))
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
            "--timeout",
            "30",
        ],
        environment,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        processes.wait_until(lambda: requests.get(f"{url}/healthz", timeout=2), timeout=60)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                f"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: {MULTIPART}\r\nContent-Length: {HUGE}\r\n\r\n".encode()
                + SLIVER
            )
            started = time.monotonic()
            answer = connection.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 413") and time.monotonic() - started < 5
        chunked = requests.post(
            f"{url}/api/auth/token/",
            data=iter([b'{"username": "a",', b' "password": "b"}']),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert chunked.status_code == 411
    finally:
        processes.stop(server)
