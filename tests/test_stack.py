"""The deployment's processes, started as docker-compose.yml starts them but without Docker:
gunicorn, a default worker, the gpu worker (on the CPU, with a token and no database settings)
and beat with short intervals, on the machine's PostgreSQL and Redis.

Two generated videos are added; their features are extracted on the gpu queue; annotators work
through the HTTP API until pairs are accepted; beat starts a training run; the model version
and its predictions appear on the review page. Then the gpu worker is killed (SIGKILL) in the
middle of a second run: the run is requeued and, after a restart, finished once.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import uuid

import pytest
import requests

from annotator import accounts, modelloop, services
from annotator.export import split_of
from annotator.models import (
    FeatureStatus,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    RunStatus,
    TrainingRun,
    Video,
)
from qa_model.synthetic import Scene, render_scene
from tests import processes
from tests.conftest import database_url_for_subprocess

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
TEMPLATES = (1, 2, 3)  # three questions per video, each answered twice alike


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def video_ids() -> list[str]:
    """One video in the training split and one in the test split (the split hashes the id)."""
    found: dict[str, str] = {}
    for number in range(10_000):
        video_id = f"stack{number:04d}"
        found.setdefault(split_of(video_id), video_id)
        if "train" in found and "test" in found:
            return [found["train"], found["test"]]
    raise AssertionError("no ids")


class Stack:
    """The processes, each started with the environment compose would give it."""

    def __init__(self, tmp_path, settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.queue = f"gpu-{uuid.uuid4().hex[:10]}"
        settings.GPU_QUEUE = self.queue  # what this (web-side) test process sends to
        self.tmp_path = tmp_path
        self.common = {
            **os.environ,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "GPU_QUEUE": self.queue,
            "GPU_TASK_TIME_LIMIT_SECONDS": "600",
        }
        self.web_env = {
            **self.common,
            "DATABASE_URL": database_url_for_subprocess(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "WATCH_MIN_SECONDS": "1",
            "RETRAIN_INTERVAL_SECONDS": "2",
            "RETRAIN_MIN_NEW": str(len(TEMPLATES) * 2),
            "RUN_STALE_SECONDS": "8",
            "RUN_MAX_ATTEMPTS": "2",
        }
        self.running: dict[str, object] = {}

    def start_web(self) -> None:
        self.running["web"] = processes.start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--timeout",
                "120",
            ],
            self.web_env,
        )
        processes.wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=2).ok, timeout=60)
        for name, args in {
            "worker": ["worker", "-Q", "default", "--concurrency", "1"],
            "beat": ["beat", "-s", str(self.tmp_path / "celerybeat-schedule")],
        }.items():
            self.running[name] = processes.start(
                [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"],
                self.web_env,
            )

    def start_gpu_worker(self, *, epochs: int) -> None:
        # What compose gives the gpu worker: the broker, the API and its token; no database.
        env = {
            key: value
            for key, value in self.common.items()
            if key not in ("DATABASE_URL", "DJANGO_SECRET_KEY")
        }
        env.update(
            AVQA_API_URL=self.url,
            AVQA_API_TOKEN=accounts.model_worker_token(),
            AVQA_WORKER_DIR=str(self.tmp_path / "gpu-worker"),
            TRAIN_EPOCHS=str(epochs),
            TRAIN_GROUNDING_EPOCHS="1",
            TRAIN_BATCH_SIZE="4",
            TRAIN_MIN_PAIRS="1",
            TRAIN_DEVICE="cpu",
        )
        self.running["gpu-worker"] = processes.start(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config.gpu_worker",
                "worker",
                "-Q",
                self.queue,
                "--concurrency",
                "1",
                "--max-tasks-per-child",
                "1",
                "--hostname",
                f"{self.queue}@%h",
                "--loglevel",
                "INFO",
            ],
            env,
            new_session=True,
        )

    def kill_gpu_worker(self) -> None:
        """SIGKILL the gpu worker and its child: no shutdown, no acknowledgement."""
        worker = self.running.pop("gpu-worker")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def stop(self) -> None:
        for process in self.running.values():
            processes.stop(process)


@pytest.fixture
def stack(tmp_path, settings, catalogue):
    stack = Stack(tmp_path, settings)
    try:
        yield stack
    finally:
        stack.stop()


class Annotator:
    """One person working through the HTTP API with a token, as a lab's own front end would."""

    def __init__(self, url: str, username: str) -> None:
        user = accounts.annotator_create(username=username, password=PASSWORD)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Token {_token(user)}"
        self.url = url + "/api/"

    def _post(self, path: str, body: dict) -> dict:
        response = self.api.post(self.url + path, json=body, timeout=30)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def watch(self, video: int) -> int:
        session = self._post("watch-sessions/", {"video": video})["id"]
        time.sleep(1.2)
        beat = {"position": 1.2, "playing": True, "visible": True, "muted": False, "rate": 1.0}
        assert self._post(f"watch-sessions/{session}/heartbeat/", beat)["unlocked"]
        return session

    def ask(self, video: int, template: int, slot_values: list[str]) -> int:
        body = {
            "video": video,
            "template": template,
            "slot_values": slot_values,
            "watch_session": self.watch(video),
        }
        return self._post("questions/", body)["id"]

    def answer(self, question: dict) -> None:
        session = self.watch(question["video"]["id"])
        body = {"watch_session": session, "answer": question["answers"][0]}
        self._post(f"questions/{question['id']}/votes/", body)

    def next_question(self) -> dict | None:
        response = self.api.get(self.url + "questions/next/", timeout=30)
        return response.json() if response.status_code == 200 else None


def _token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def staff_page(url: str, path: str) -> str:
    """A page as a signed-in reviewer sees it (through the login form, CSRF and all)."""
    from django.conf import global_settings
    from django.test import override_settings

    # Hashed as the server hashes, not with the suite's fast test hasher it does not know.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        accounts.reviewer_create(username="rita", password=PASSWORD)
    browser = requests.Session()
    login = browser.get(f"{url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    browser.post(
        f"{url}/accounts/login/",
        timeout=30,
        data={
            "username": "rita",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": f"{url}/accounts/login/"},
    )
    return browser.get(f"{url}{path}", timeout=60).text


def test_the_model_loop_end_to_end(stack, tmp_path):
    from annotator.models import QuestionTemplate
    from tests.annotator.helpers import legal_slots

    stack.start_web()
    stack.start_gpu_worker(epochs=2)
    videos = []
    for number, avqa_id in enumerate(video_ids()):
        clip = render_scene(
            Scene.random(number, duration_seconds=4.0), tmp_path / f"{avqa_id}.mp4", fps=4
        )
        videos.append(services.video_create(avqa_id=avqa_id, source=clip))
    processes.wait_until(
        lambda: Video.objects.filter(feature_status=FeatureStatus.READY).count() == 2, timeout=180
    )

    asker, *voters = (Annotator(stack.url, name) for name in ("alice", "bob", "carol"))
    for video in videos:
        for template_id in TEMPLATES:
            template = QuestionTemplate.objects.get(pk=template_id)
            asker.ask(video.pk, template_id, legal_slots(template))
    for voter in voters:
        while question := voter.next_question():
            voter.answer(question)
    accepted = Question.objects.filter(status=QuestionStatus.ACCEPTED).count()
    assert accepted == len(TEMPLATES) * 2

    # Beat notices the new pairs; the gpu worker trains and posts its predictions back.
    version = processes.wait_until(lambda: ModelVersion.objects.first(), timeout=300)
    processes.wait_until(lambda: Prediction.objects.count() == accepted, timeout=120)
    assert version.run.trigger == TrainingRun.Trigger.SCHEDULE and version.is_active
    assert version.dataset_counts["train"]["pairs"] == 3
    assert version.metrics["columns"]["All"] is not None
    question = Question.objects.order_by("id").first()
    prediction = Prediction.objects.get(question=question)
    page = staff_page(stack.url, f"/review/questions/{question.pk}/")
    assert f'v{version.number} answers <b class="prediction">{prediction.answer}</b>' in page

    # A second run, killed mid-training: requeued by the reaper, finished once after restart.
    stack.kill_gpu_worker()
    stack.start_gpu_worker(epochs=100_000)
    run = modelloop.retrain_now(requested_by=None)
    processes.wait_until(
        lambda: (TrainingRun.objects.get(pk=run.pk).progress or {}).get("epoch", 0) >= 1,
        timeout=180,
    )
    stack.kill_gpu_worker()
    processes.wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).status == RunStatus.QUEUED, timeout=60
    )
    stack.start_gpu_worker(epochs=2)
    processes.wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED, timeout=300
    )
    run.refresh_from_db()
    assert run.attempts == 2
    assert ModelVersion.objects.filter(run=run).count() == 1
    assert ModelVersion.objects.count() == 2
    assert ModelVersion.objects.get(is_active=True).run == run
