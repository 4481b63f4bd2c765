"""The model loop's contract (qa_model/contract.py): the web app and the gpu worker agree with it.

The task names the web app sends are tasks of the gpu worker's Celery app; every path the
worker's API client requests resolves to the worker API's view for it; the payloads the worker
builds, from a real (briefly trained) model, have exactly the keys the web app's serializers
take, and the web app stores them; the numbers both sides check are the contract's.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import resolve
from rest_framework.test import APIClient

from qa_model import contract

ROOT = Path(__file__).resolve().parent.parent
# A finished run's result as the worker posts it (the values do not matter here).
RESULT = contract.TrainingResult(
    dataset_hash="0" * 64,
    dataset_counts={},
    config={},
    device="cpu",
    duration_seconds=0.0,
    best_epoch=0,
    best_val_accuracy=None,
    metrics={},
    baselines={},
    notes="",
)


def keys(typed_dict: type) -> set[str]:
    return set(typing.get_type_hints(typed_dict))


def test_the_contract_imports_without_django_celery_or_torch():
    """Both sides import it: the gpu worker never loads Django, the web app never PyTorch."""
    probe = (
        "import sys; import qa_model.contract; "
        "print(sorted({'django', 'torch', 'celery', 'rest_framework'} & set(sys.modules)))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_its_limits_fit_together(settings):
    assert contract.PREDICTIONS_PER_POST <= contract.ITEMS_PER_POST_MAX
    assert contract.POST_MAX_BYTES < settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert contract.PREDICT_BATCH <= contract.UNPREDICTED_LIMIT_MAX
    assert 1 <= contract.UNPREDICTED_LIMIT_DEFAULT <= contract.UNPREDICTED_LIMIT_MAX
    assert contract.SPATIAL_SEGMENTS <= contract.SPATIAL_SEGMENTS_MAX <= contract.SEGMENTS_MAX
    assert contract.BLIND_BASELINE in contract.TRAIN_BASELINES
    assert set(contract.PREDICTION_FIELDS) == contract.PREDICTION_KEYS - {"question_id"}
    assert len(set(contract.WORKER_PATHS)) == len(contract.WORKER_PATHS)
    assert contract.route(contract.FEATURES_CLAIM) == "videos/<slug:video_id>/features/claim/"
    assert contract.route(contract.RUN_FINISH) == "runs/<int:pk>/finish/"


# --- Celery -----------------------------------------------------------------------------------


class Broker:
    """Stands in for the web app's send_task: records what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list, str]] = []

    def send_task(self, name: str, *, args: list, queue: str, **options: object) -> None:
        self.sent.append((name, args, queue))


@pytest.mark.django_db
def test_every_task_the_web_app_sends_is_a_gpu_worker_task(
    settings, monkeypatch, catalogue, django_capture_on_commit_callbacks
):
    from annotator import accounts, modelloop
    from config.celery import app
    from config.gpu_worker import app as gpu_app
    from tests.annotator.helpers import ask, video_make

    settings.GPU_QUEUE = "gpu-contract"
    broker = Broker()
    monkeypatch.setattr(app, "send_task", broker.send_task)
    with django_capture_on_commit_callbacks(execute=True):
        video = video_make()
        modelloop.video_features_queue(video)
        run = modelloop.retrain_now(requested_by=None)
    assert modelloop.training_run_claim(run)
    version, _ = modelloop.training_run_finish(
        run, result=RESULT, checkpoint=ContentFile(b"weights", name="w.pt")
    )
    ask(accounts.annotator_create(username="alice", password="a-long-test-password"), video)
    assert modelloop.predictions_check()

    assert broker.sent == [
        (contract.TASK_EXTRACT, [video.avqa_id], "gpu-contract"),
        (contract.TASK_TRAIN, [run.pk], "gpu-contract"),
        (contract.TASK_PREDICT, [version.pk], "gpu-contract"),
    ]
    for name, args, _ in broker.sent:
        task = gpu_app.tasks[name]
        assert len(inspect.signature(task.run).parameters) == len(args), name
    # Shared tasks (the web app's, once imported) register on every app: count the worker's own.
    own = {task.name for task in gpu_app.tasks.values() if task.__module__ == "config.gpu_worker"}
    assert own == set(contract.GPU_TASKS)


def test_the_gpu_worker_consumes_the_contracts_queue():
    from config.gpu_worker import TASK_TIME_LIMIT
    from config.gpu_worker import app as gpu_app

    assert gpu_app.conf.task_default_queue == contract.GPU_QUEUE
    if not os.environ.get("GPU_TASK_TIME_LIMIT_SECONDS"):
        assert TASK_TIME_LIMIT == contract.GPU_TASK_TIME_LIMIT_SECONDS


@pytest.mark.slow
def test_the_settings_defaults_are_the_contracts(tmp_path):
    """Read in a fresh process with none of the variables set (the tests override GPU_QUEUE)."""
    names = ("GPU_QUEUE", "GPU_TASK_TIME_LIMIT_SECONDS", "CLIP_SECONDS")
    environment = {k: v for k, v in os.environ.items() if k not in names}
    environment.update(AVQA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    probe = (
        "import json; from config import settings as s; print(json.dumps([s.GPU_QUEUE, "
        "s.GPU_TASK_TIME_LIMIT_SECONDS, s.CLIP_SECONDS, "
        "sorted(e['task'] for e in s.CELERY_BEAT_SCHEDULE.values())]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    queue, time_limit, clip_seconds, beat = json.loads(result.stdout)
    assert queue == contract.GPU_QUEUE
    assert time_limit == contract.GPU_TASK_TIME_LIMIT_SECONDS
    assert clip_seconds == contract.CLIP_SECONDS
    loop = {
        contract.TASK_RETRAIN_CHECK,
        contract.TASK_GPU_WORK_REAP,
        contract.TASK_PREDICTIONS_CHECK,
    }
    assert loop <= set(beat)


def test_beats_tasks_are_registered_on_the_web_app(settings):
    import annotator.tasks  # noqa: F401  (registers the shared tasks)
    from config.celery import app

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


# --- The worker API's paths -------------------------------------------------------------------


class _Canned:
    """A response to any worker API call, with every key the client reads."""

    status_code = 200
    text = ""

    def json(self) -> dict:
        return {
            contract.RECORDS: [],
            contract.UNPREDICTED_COUNT: 0,
            contract.FINISH_VERSION: 1,
            **dict.fromkeys(contract.PREDICTIONS_TOTALS + contract.BLIND_SCORES_TOTALS, 0),
        }

    def iter_content(self, size: int) -> Iterator[bytes]:
        yield b"bytes"


class _Recorder:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, url: str, **kwargs: object) -> _Canned:
        self.calls.append((method, url))
        return _Canned()


def test_every_path_the_worker_requests_resolves_to_its_view(tmp_path):
    """Each ApiClient call, recorded: its path is under the worker API's root, resolves to a
    worker API view that answers its method, and all of the contract's paths are used."""
    from annotator.api.worker import WorkerView
    from qa_model.worker import ApiClient, WorkerConfig

    config = WorkerConfig(api_url="http://web:8000/", token="t", work_dir=tmp_path)
    client = ApiClient(config, retries=1)
    client.session = recorder = _Recorder()
    (tmp_path / "run.pt").write_bytes(b"weights")
    client.claim_features("v0000001")
    client.download("v0000001", tmp_path / "clip.mp4")
    client.report_features("v0000001", ok=False, error="broken")
    client.dataset()
    client.live_questions()
    client.claim_run(7)
    client.progress(7, {"stage": "export"})
    client.fail(7, "lost")
    client.finish(7, {}, tmp_path / "run.pt")
    client.unpredicted(8, 10)
    client.checkpoint(8, tmp_path / "version.pt")
    client.predictions_done(8)
    client.post_predictions(8, [{"question_id": 1}])
    client.post_blind_scores(8, [{"question_id": 1}])

    routes = set()
    for method, url in recorder.calls:
        parts = urlsplit(url)
        assert parts.netloc == "web:8000" and parts.path.startswith(contract.WORKER_API_ROOT)
        match = resolve(parts.path)
        view = match.func.view_class
        assert issubclass(view, WorkerView), url
        assert method.lower() in view.http_method_names and hasattr(view, method.lower()), url
        routes.add(match.route)
    root = contract.WORKER_API_ROOT.lstrip("/")
    assert routes == {root + contract.route(path) for path in contract.WORKER_PATHS}


# --- Payloads ---------------------------------------------------------------------------------


def test_the_serializers_take_the_contracts_keys():
    from annotator.api import worker

    def fields(serializer: type) -> set[str]:
        return set(serializer().fields)

    assert fields(worker.FeatureReportSerializer) == keys(contract.FeatureReport)
    assert fields(worker.FailSerializer) == keys(contract.RunFailure)
    assert fields(worker.ProgressSerializer) == keys(contract.RunProgress)
    assert fields(worker.FinishSerializer) == {contract.FINISH_RESULT, contract.FINISH_CHECKPOINT}
    assert fields(worker.ResultSerializer) == keys(contract.TrainingResult)
    assert fields(worker.PredictionsSerializer) == {contract.PREDICTIONS_ITEMS}
    assert fields(worker.PredictionSerializer) == keys(contract.PredictionItem)
    assert fields(worker.RankedSerializer) == keys(contract.RankedAnswer)
    assert fields(worker.SpatialMapsSerializer) == keys(contract.SpatialMaps)
    assert fields(worker.BlindScoresSerializer) == {contract.BLIND_SCORES_ITEMS}
    assert fields(worker.BlindScoreSerializer) == keys(contract.BlindScore)
    assert keys(contract.TrainingResult) == contract.TRAINING_RESULT_KEYS


def test_the_worker_reports_progress_with_the_contracts_keys():
    from qa_model.training import Progress

    assert {f.name for f in dataclass_fields(Progress)} == keys(contract.RunProgress)


class DjangoSession:
    """requests.Session.request answered by the web app in this process (Django's test
    client), so the worker's real client talks to the real worker API; records each body."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.posted: dict[str, list[object]] = {}

    def request(self, method: str, url: str, **options: object) -> _Answer:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=self.headers["Authorization"])
        path = urlsplit(url).path
        route = resolve(path).route
        body, data, files = options.get("json"), options.get("data"), options.get("files")
        if body is not None:
            self.posted.setdefault(route, []).append(body)
            response = client.generic(method, path, json.dumps(body), "application/json")
        elif files:
            self.posted.setdefault(route, []).append(dict(data))
            response = client.post(path, {**data, **files}, format="multipart")
        else:
            query = urlencode(options.get("params") or {})
            response = client.generic(method, path, QUERY_STRING=query)
        return _Answer(response)


class _Answer:
    def __init__(self, response) -> None:
        self.response, self.status_code = response, response.status_code

    @property
    def text(self) -> str:
        return "" if self.response.streaming else self.response.content.decode(errors="replace")

    def json(self) -> dict:
        return self.response.json()

    def iter_content(self, size: int) -> Iterator[bytes]:
        if self.response.streaming:
            # Read to the end, the test client closes it (not response.close(), which would
            # also close the test's database connection).
            yield from self.response.streaming_content
        else:
            yield self.response.content


def _random_features(folder: Path, video_id: str) -> None:
    """A feature file of the real shapes (the extractor's networks are not run)."""
    from qa_model.features import save_features

    rng = np.random.default_rng(0)
    seconds = np.arange(0, contract.CLIP_SECONDS, 6, dtype=np.int16)
    side = contract.MAP_SIDE
    save_features(
        folder / f"{video_id}.npz",
        {
            "audio": rng.standard_normal((len(seconds), 128)).astype(np.float16),
            "visual": rng.standard_normal((len(seconds), 512, side, side)).astype(np.float16),
            "seconds": seconds,
        },
    )


def _train_video_id() -> str:
    from annotator.export import split_of

    return next(f"clip{n:04d}" for n in itertools.count() if split_of(f"clip{n:04d}") == "train")


@pytest.mark.django_db
@pytest.mark.slow
def test_what_the_worker_posts_is_what_the_web_app_takes(catalogue, tmp_path):
    """A run trained (one epoch) and recorded, its predictions and the question-only model's
    scores posted, then a predict task for a question asked since: through the worker's real
    client and the web app's real views. Every body has exactly the contract's keys."""
    from annotator import accounts
    from annotator.models import ModelVersion, Prediction, Question, TrainingRun
    from qa_model.training import TrainConfig
    from qa_model.worker import ApiClient, WorkerConfig, predict_job, train_job
    from tests.annotator.helpers import ask, video_make, vote

    people = [
        accounts.annotator_create(username=name, password="a-long-test-password")
        for name in ("alice", "bob", "carol")
    ]
    video = video_make(avqa_id=_train_video_id())
    accepted = ask(people[0], video, template_id=2)
    for person in people[1:]:
        vote(person, accepted, accepted.template.answers[1])
    open_question = ask(people[0], video, template_id=1)
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=1)

    config = WorkerConfig(
        api_url="http://testserver",
        token=accounts.model_worker_token(),
        work_dir=tmp_path / "worker",
        variants=("avst",),
        baselines=(contract.BLIND_BASELINE,),
        train=TrainConfig(epochs=1, grounding_epochs=1, batch_size=4, device="cpu"),
        min_pairs=1,
    )
    config.features_dir.mkdir(parents=True)
    _random_features(config.features_dir, video.avqa_id)
    client = ApiClient(config, retries=1)
    session = DjangoSession()
    session.headers.update(client.session.headers)  # the service token
    client.session = session

    outcome = train_job(client, config, run.pk)

    version = ModelVersion.objects.get(run=run)
    assert outcome == {
        "run": run.pk,
        "claimed": True,
        "version": version.pk,
        "stored": 2,
        "unchanged": 0,
        "blind_scores": {"stored": 2, "skipped": 0},
    }
    root = contract.WORKER_API_ROOT.lstrip("/")

    def posted(path: str) -> list:
        return session.posted[root + contract.route(path)]

    [finished] = posted(contract.RUN_FINISH)
    assert set(finished) == {contract.FINISH_RESULT}
    assert set(json.loads(finished[contract.FINISH_RESULT])) == contract.TRAINING_RESULT_KEYS
    for progress in posted(contract.RUN_PROGRESS):
        assert set(progress) <= keys(contract.RunProgress) and "stage" in progress
    [predictions] = posted(contract.PREDICTIONS)
    assert set(predictions) == {contract.PREDICTIONS_ITEMS}
    for item in predictions[contract.PREDICTIONS_ITEMS]:
        assert set(item) == contract.PREDICTION_KEYS
        for ranked in item["top3"]:
            assert set(ranked) == keys(contract.RankedAnswer)
        assert set(item["spatial_maps"]) == keys(contract.SpatialMaps)
        assert len(item["spatial_maps"]["segments"]) == contract.SPATIAL_SEGMENTS
        for heat_map in item["spatial_maps"]["maps"]:
            assert len(heat_map) == contract.MAP_SIDE
            assert {len(row) for row in heat_map} == {contract.MAP_SIDE}
    [scores] = posted(contract.BLIND_SCORES)
    assert set(scores) == {contract.BLIND_SCORES_ITEMS}
    for item in scores[contract.BLIND_SCORES_ITEMS]:
        assert set(item) == contract.BLIND_SCORE_KEYS
    # The web app stored all of it.
    stored = Prediction.objects.get(version=version, question=open_question)
    assert stored.spatial_maps and len(stored.top3) <= contract.TOP_ANSWERS
    assert Question.objects.filter(blind_score__isnull=False).count() == 2

    # A question asked since: the predict task reads, downloads, posts and reports it.
    later = ask(people[1], video, template_id=3)
    assert predict_job(client, config, version.pk) == {
        "version": version.pk,
        "stored": 1,
        "unchanged": 0,
        "remaining": 0,
    }
    assert Prediction.objects.filter(version=version, question=later).exists()


# --- Shared numbers -----------------------------------------------------------------------------


def test_the_ml_library_computes_what_the_contract_says():
    """Frames of FRAME_SIDE through the feature network give MAP_SIDE maps; clips, frames
    and the training defaults are the contract's."""
    import torch

    from qa_model import decode, features
    from qa_model.training import TrainConfig

    assert features.IMAGE_SIZE == contract.FRAME_SIDE
    assert decode.CLIP_SECONDS == contract.CLIP_SECONDS
    with torch.no_grad():
        side = contract.FRAME_SIDE
        maps = features.resnet18_stride1()(torch.zeros(1, 3, side, side))
    assert tuple(maps.shape[-2:]) == (contract.MAP_SIDE, contract.MAP_SIDE)
    defaults = TrainConfig()
    assert (
        defaults.epochs,
        defaults.grounding_epochs,
        defaults.batch_size,
        defaults.learning_rate,
    ) == (
        contract.TRAIN_EPOCHS,
        contract.TRAIN_GROUNDING_EPOCHS,
        contract.TRAIN_BATCH_SIZE,
        contract.TRAIN_LEARNING_RATE,
    )


def test_the_gpu_workers_defaults_are_the_contracts(monkeypatch, tmp_path):
    from config.gpu_worker import worker_config

    for name in os.environ:
        if name.startswith("TRAIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AVQA_API_TOKEN", "t")
    config = worker_config()
    assert config.variants == contract.TRAIN_VARIANTS
    assert config.baselines == contract.TRAIN_BASELINES
    assert config.min_pairs == contract.TRAIN_MIN_PAIRS
    assert (config.train.epochs, config.train.grounding_epochs, config.train.batch_size) == (
        contract.TRAIN_EPOCHS,
        contract.TRAIN_GROUNDING_EPOCHS,
        contract.TRAIN_BATCH_SIZE,
    )
    assert config.train.learning_rate == contract.TRAIN_LEARNING_RATE
