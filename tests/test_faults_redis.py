"""Redis stops while annotators work: annotation goes on, and the gpu work recorded meanwhile
reaches the broker once Redis is back.

The deployment's processes (gunicorn, a worker, beat) run on PostgreSQL and on a Redis server of
this test's own, which it kills (SIGKILL) and starts again; the machine's shared Redis is never
touched. While Redis is down, annotators watch, ask and vote through the HTTP API, and an admin
queues a training run and a feature extraction. Every request must succeed quickly. When Redis
returns, beat and the worker reconnect by themselves, the reaper sends the two undelivered tasks,
and they are found in the gpu queue in Redis.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import uuid

import pytest
import redis
import requests

from annotator import accounts
from annotator.models import FeatureStatus, Question, QuestionStatus, RunStatus, TrainingRun, Video
from tests import processes
from tests.annotator.helpers import legal_slots, video_make
from tests.conftest import database_url_for_subprocess
from tests.test_stack import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
# An annotation request that waited on the broker's retries would take a second or more; a
# request on a loaded 2-core machine takes well under this.
QUICK_SECONDS = 1.5


class PrivateRedis:
    """A redis-server of this test's own on a free port, with nothing persisted, so a kill and
    restart empties it (compose's Redis keeps an append-only file; this is the harder case)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = processes.start(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            os.environ,
        )
        processes.wait_until(self.answers, timeout=15)

    def answers(self) -> bool:
        try:
            return self.client().ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: a crash, not a shutdown
        processes.stop(self.process)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

    def tasks_in(self, queue: str) -> set[tuple[str, object]]:
        """(task name, first argument) of each message waiting in a Celery queue."""
        found = set()
        for raw in self.client().lrange(queue, 0, -1):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            found.add((message["headers"]["task"], args[0]))
        return found


class Stack:
    def __init__(self, tmp_path, settings, broker: PrivateRedis) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.gpu_queue = f"gpu-{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            "REDIS_URL": broker.url,
            "DATABASE_URL": database_url_for_subprocess(),
            "GPU_QUEUE": self.gpu_queue,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "WATCH_MIN_SECONDS": "0.5",
            # Beat runs the reaper every RUN_STALE_SECONDS / 4 (at least 5 s).
            "RUN_STALE_SECONDS": "20",
            "RETRAIN_INTERVAL_SECONDS": "3600",
        }
        self.tmp_path = tmp_path
        self.running: list = []

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self.running.append(
            processes.start(
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
                    "60",
                ],
                self.env,
            )
        )
        self.worker = processes.start(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default",
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            self.env,
        )
        self.running.append(self.worker)
        self.running.append(
            processes.start(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "beat",
                    "-s",
                    str(self.tmp_path / "celerybeat-schedule"),
                    "--loglevel",
                    "INFO",
                ],
                self.env,
            )
        )
        processes.wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=2).ok, timeout=60)
        # Both connected before the outage: beat has sent a reap and the worker has run it.
        processes.wait_until(self.reaped, timeout=60)

    def reaped(self) -> re.Match | None:
        return re.search(r"gpu_work_reap\[[^]]+\] succeeded", processes.output_of(self.worker))

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.running)

    def stop(self) -> None:
        for process in self.running:
            processes.stop(process)


@pytest.fixture
def broker():
    broker = PrivateRedis()
    broker.start()
    try:
        yield broker
    finally:
        if broker.process:
            broker.kill()


@pytest.fixture
def stack(tmp_path, settings, catalogue, broker):
    stack = Stack(tmp_path, settings, broker)
    try:
        yield stack
    finally:
        stack.stop()


class Client:
    """HTTP calls that must all succeed (2xx or a redirect) and quickly."""

    slowest = 0.0  # seconds, across every client: printed for the record

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        started = time.monotonic()
        response = self.http.request(
            method, self.base_url + path, timeout=30, allow_redirects=False, **kwargs
        )
        took = time.monotonic() - started
        assert response.status_code < 400, f"{method} {path}: {response.status_code}"
        assert took < QUICK_SECONDS, f"{method} {path} took {took:.2f} s"
        Client.slowest = max(Client.slowest, took)
        return response


class Annotator(Client):
    def __init__(self, base_url: str, username: str) -> None:
        from rest_framework.authtoken.models import Token

        super().__init__(base_url + "/api/")
        user = accounts.annotator_create(username=username, password=PASSWORD)
        self.http.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"

    def watch(self, video: int) -> int:
        session = self.call("POST", "watch-sessions/", json={"video": video}).json()["id"]
        for position in (0.3, 0.6):
            time.sleep(0.3)
            beat = {
                "position": position,
                "playing": True,
                "visible": True,
                "muted": False,
                "rate": 1.0,
            }
            unlocked = self.call("POST", f"watch-sessions/{session}/heartbeat/", json=beat)
        assert unlocked.json()["unlocked"]
        return session

    def ask(self, video: int, template) -> int:
        body = {
            "video": video,
            "template": template.pk,
            "slot_values": legal_slots(template),
            "watch_session": self.watch(video),
        }
        return self.call("POST", "questions/", json=body).json()["id"]

    def answer_next(self) -> None:
        question = self.call("GET", "questions/next/").json()
        body = {
            "watch_session": self.watch(question["video"]["id"]),
            "answer": question["answers"][0],
        }
        self.call("POST", f"questions/{question['id']}/votes/", json=body)


class Admin(Client):
    """A superuser in the admin, through its sign-in form and CSRF like a browser."""

    def __init__(self, base_url: str) -> None:
        from django.conf import global_settings
        from django.contrib.auth import get_user_model
        from django.test import override_settings

        super().__init__(base_url + "/admin/")
        # Hashed as the server hashes, not with the suite's fast test hasher it does not know.
        with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
            get_user_model().objects.create_superuser("root", password=PASSWORD)
        self.http.get(self.base_url + "login/", timeout=30)
        # Not timed: hashing the password is slow by design.
        form = self._form({"username": "root", "password": PASSWORD})
        signed_in = self.http.post(
            self.base_url + "login/", data=form, timeout=30, allow_redirects=False
        )
        assert signed_in.status_code == 302, signed_in.text

    def _form(self, data: dict) -> dict:
        return {**data, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]}

    def post(self, path: str, data: dict) -> requests.Response:
        response = self.call("POST", path, data=self._form(data))
        assert response.status_code == 302, f"{path}: {response.status_code}"
        return response


def test_annotation_goes_on_while_redis_is_down_and_gpu_work_waits(stack, broker):
    from annotator.models import QuestionTemplate

    # Extracted before the outage, so only what is queued during it waits for the broker.
    videos = [video_make(feature_status=FeatureStatus.READY) for _ in range(2)]
    templates = list(QuestionTemplate.objects.order_by("pk")[:2])
    stack.start()
    asker, *voters = (Annotator(stack.url, name) for name in ("alice", "bob", "carol"))
    admin = Admin(stack.url)

    broker.kill()

    for template in templates:
        asker.ask(videos[0].pk, template)
    for voter in voters:
        for _ in templates:
            voter.answer_next()
    assert Question.objects.filter(status=QuestionStatus.ACCEPTED).count() == len(templates)

    admin.post("annotator/trainingrun/retrain-now/", {})
    admin.post("annotator/video/", {"action": "features_retry", "_selected_action": videos[1].pk})
    # Recorded, not lost, and marked as never sent.
    run = TrainingRun.objects.get()
    assert (run.status, run.task_sent_at) == (RunStatus.QUEUED, None)
    video = Video.objects.get(pk=videos[1].pk)
    assert (video.feature_status, video.feature_task_sent_at) == (FeatureStatus.PENDING, None)
    print(f"slowest request while Redis was down: {Client.slowest:.3f} s")

    broker.start()

    # Beat and the worker reconnect; beat's next reap sends what never reached the broker.
    expected = {("gpu.train", run.pk), ("gpu.extract_features", video.avqa_id)}
    processes.wait_until(lambda: broker.tasks_in(stack.gpu_queue) == expected, timeout=90)
    run.refresh_from_db()
    video.refresh_from_db()
    assert run.task_sent_at is not None and video.feature_task_sent_at is not None
    assert stack.alive()
