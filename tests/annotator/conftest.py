from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from annotator import accounts
from annotator.models import Video
from config.celery import app
from tests.annotator.helpers import video_make


@pytest.fixture
def make_annotator(db, catalogue):
    def make(username: str) -> object:
        return accounts.annotator_create(username=username, password="a-long-test-password")

    return make


@pytest.fixture
def annotator(make_annotator):
    return make_annotator("alice")


@pytest.fixture
def other_annotator(make_annotator):
    return make_annotator("bob")


@pytest.fixture
def third_annotator(make_annotator):
    return make_annotator("carol")


@pytest.fixture
def reviewer(db, catalogue):
    return accounts.reviewer_create(username="rita", password="a-long-test-password")


@pytest.fixture
def outsider(db, catalogue):
    """Signed up, but not in the annotators group: may do nothing."""
    return get_user_model().objects.create_user("oscar", password="a-long-test-password")


@pytest.fixture
def video(db, catalogue) -> Video:
    return video_make()


class Broker:
    """Stands in for app.send_task: records what was sent, or refuses while down."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[tuple[str, list, str]] = []

    def send_task(self, name: str, *, args: list, queue: str, **options: object) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append((name, args, queue))


@pytest.fixture
def broker(settings, monkeypatch) -> Broker:
    settings.GPU_QUEUE = "gpu-test"
    broker = Broker()
    monkeypatch.setattr(app, "send_task", broker.send_task)
    return broker


@pytest.fixture
def worker_api(db, catalogue) -> APIClient:
    """The gpu worker's API client, with the service account's token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {accounts.model_worker_token()}")
    return client
