"""Path traversal: no value a person sends, and no file name a row could hold, serves a file
from outside MEDIA_ROOT. Video pages and the worker API take ids (integers, slugs) in their URLs,
never paths; a stored name that points outside the media folder is refused by the storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from annotator import modelloop
from annotator.models import ModelVersion, TrainingRun, Video
from tests.annotator.test_modelloop import RESULT

pytestmark = pytest.mark.django_db
SECRET = b"the server's secret key"


@pytest.fixture
def secret(settings):
    """A file beside MEDIA_ROOT, which nothing may serve."""
    path = settings.MEDIA_ROOT.parent / "secret.txt"
    path.write_bytes(SECRET)
    return path


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    "stored_name",
    [
        "../secret.txt",
        "videos/../../secret.txt",
        "{secret}",
        "videos/%2e%2e/%2e%2e/secret.txt",
        "videos/missing.mp4",
    ],
)
def test_a_stored_name_outside_the_media_folder_or_missing_is_never_served(
    client, reviewer, worker_api, secret, stored_name
):
    video = Video.objects.create(
        avqa_id="escape", duration_seconds=60, file=stored_name.format(secret=secret)
    )
    client.force_login(reviewer)
    responses = [
        client.get(reverse("video-stream", args=[video.pk])),
        client.get(reverse("video-stream", args=[video.pk]), HTTP_RANGE="bytes=0-10"),
        client.get(reverse("review-frame", args=[video.pk, 0])),
        worker_api.get(reverse("api-worker-file", args=[video.avqa_id])),
    ]
    for response in responses:
        assert response.status_code in (400, 404), response.status_code
        assert SECRET not in body(response)


@pytest.mark.parametrize(
    "path",
    [
        "/videos/..%2F..%2Fsecret.txt/stream/",
        "/videos/%2e%2e/stream/",
        "/videos/1%00/stream/",
        "/review/videos/1/frames/..%2F..%2Fsecret.jpg",
        "/review/videos/1/frames/-1.jpg",
        "/review/videos/1/frames/99999999999999999999.jpg",
        "/api/worker/videos/..%2F..%2Fsecret/file/",
        "/api/worker/videos/%2e%2e/file/",
        "/api/worker/videos/escape%00/file/",
        "/api/worker/videos//etc/passwd/file/",
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/static/../secret.txt",
    ],
)
def test_paths_in_urls_find_no_file(client, reviewer, worker_api, secret, path):
    Video.objects.create(avqa_id="escape", duration_seconds=60, file="videos/escape.mp4")
    client.force_login(reviewer)
    clients = [client, worker_api] if path.startswith("/api/") else [client]
    for response in (someone.get(path) for someone in clients):
        assert response.status_code in (400, 403, 404), (path, response.status_code)
        assert SECRET not in body(response)


def test_an_uploaded_checkpoints_name_is_not_used_as_a_path(worker_api, settings, tmp_path):
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=1)
    modelloop.training_run_claim(run)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="result"\r\n\r\n'
        + json.dumps(RESULT).encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="checkpoint"; '
        b'filename="../../../evil.pt"\r\n\r\nweights\r\n--b--\r\n'
    )
    response = worker_api.post(
        reverse("api-worker-run-finish", args=[run.pk]),
        body,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get()
    assert version.checkpoint.name == "models/avst-v1.pt"
    assert Path(version.checkpoint.path).parent == settings.MEDIA_ROOT / "models"
    assert not list(tmp_path.rglob("evil*"))
