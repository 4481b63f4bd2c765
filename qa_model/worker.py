"""The gpu worker's jobs: extract a video's features, and retrain AVST then predict.

It talks to the platform only through its worker API (an HTTP client with a service token):
it holds no database credentials and never imports Django. Each job first claims its work
(a conditional update on the server), so a duplicate or redelivered task does nothing.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from qa_model import contract
from qa_model.contract import (
    BLIND_BASELINE,
    POST_MAX_BYTES,
    PREDICT_BATCH,
    PREDICTIONS_PER_POST,
    SPATIAL_SEGMENTS,
)
from qa_model.data import FeatureStore
from qa_model.evaluation import Prediction, blind_scores, evaluate, format_table2, predict
from qa_model.features import FeatureExtractor, feature_path
from qa_model.files import atomic_write
from qa_model.records import SPLITS, Record, parse_records
from qa_model.training import (
    Progress,
    TrainConfig,
    TrainResult,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
    train,
)

logger = logging.getLogger(__name__)


class WorkerError(RuntimeError):
    """A job that cannot go on; the message is recorded on the run or the video."""


@dataclass(frozen=True)
class WorkerConfig:
    api_url: str
    token: str
    work_dir: Path
    # The variants a run trains; the one best on the validation split becomes the version
    # (the first listed when there is no validation split yet).
    variants: tuple[str, ...] = contract.TRAIN_VARIANTS
    # Trained beside them on the same split, each with its Table 2 on the version (what sound,
    # sight and both add to the question); question-only also scores every live question
    # "answerable without watching". Audio- and visual-only read the pooled features: cheap.
    baselines: tuple[str, ...] = contract.TRAIN_BASELINES
    train: TrainConfig = field(default_factory=TrainConfig)
    min_pairs: int = contract.TRAIN_MIN_PAIRS
    visual_weights: str | None = None
    audio_weights: str | None = None
    timeout: float = 60.0

    @property
    def features_dir(self) -> Path:
        return self.work_dir / "features"


class ApiClient:
    """The worker API, with retries on connection errors (the web app may be restarting)."""

    def __init__(self, config: WorkerConfig, *, retries: int = 5) -> None:
        self.base = config.api_url.rstrip("/") + contract.WORKER_API_ROOT
        self.timeout = config.timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {config.token}"

    def _request(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs):
        for attempt in range(self.retries):
            try:
                response = self.session.request(
                    method, self.base + path, timeout=self.timeout, **kwargs
                )
                break
            except requests.ConnectionError:
                if attempt == self.retries - 1:
                    raise
                time.sleep(min(2**attempt, 30))
        if response.status_code not in ok:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiRefusal(response.status_code, f"{method} {path}: {detail}")
        return response

    def claim_features(self, video_id: str) -> bool:
        return self._claim(contract.FEATURES_CLAIM.format(video_id=video_id))

    def download(self, video_id: str, target: Path) -> Path:
        path = contract.VIDEO_FILE.format(video_id=video_id)
        response = self._request("GET", path, stream=True)
        with target.open("wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        return target

    def report_features(self, video_id: str, *, ok: bool, error: str = "") -> None:
        report = contract.FeatureReport(ok=ok, error=error[: contract.MESSAGE_MAX_CHARS])
        self._request("POST", contract.FEATURES_REPORT.format(video_id=video_id), json=report)

    def dataset(self) -> dict:
        return self._request("GET", contract.DATASET).json()

    def live_questions(self) -> list[dict]:
        return self._request("GET", contract.LIVE_QUESTIONS).json()[contract.RECORDS]

    def claim_run(self, run_id: int) -> bool:
        return self._claim(contract.RUN_CLAIM.format(pk=run_id))

    def progress(self, run_id: int, progress: contract.RunProgress) -> None:
        self._request("POST", contract.RUN_PROGRESS.format(pk=run_id), json=progress)

    def fail(self, run_id: int, error: str) -> None:
        failure = contract.RunFailure(error=error[: contract.MESSAGE_MAX_CHARS])
        self._request("POST", contract.RUN_FAIL.format(pk=run_id), json=failure)

    def finish(self, run_id: int, result: contract.TrainingResult, checkpoint: Path) -> dict:
        with checkpoint.open("rb") as handle:
            return self._request(
                "POST",
                contract.RUN_FINISH.format(pk=run_id),
                data={contract.FINISH_RESULT: json.dumps(result)},
                files={contract.FINISH_CHECKPOINT: handle},
            ).json()

    def unpredicted(self, version_id: int, limit: int) -> list[dict]:
        path = contract.UNPREDICTED.format(pk=version_id)
        params = {contract.UNPREDICTED_LIMIT: limit}
        return self._request("GET", path, params=params).json()[contract.RECORDS]

    def checkpoint(self, version_id: int, target: Path) -> Path:
        path = contract.CHECKPOINT.format(pk=version_id)
        response = self._request("GET", path, stream=True)
        with atomic_write(target) as temporary, temporary.open("wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        return target

    def post_blind_scores(
        self, version_id: int, items: Sequence[contract.BlindScore]
    ) -> dict[str, int]:
        return self._post_in_chunks(
            contract.BLIND_SCORES.format(pk=version_id),
            contract.BLIND_SCORES_ITEMS,
            items,
            contract.BLIND_SCORES_TOTALS,
        )

    def predictions_done(self, version_id: int) -> int:
        path = contract.PREDICTIONS_DONE.format(pk=version_id)
        return self._request("POST", path).json()[contract.UNPREDICTED_COUNT]

    def post_predictions(
        self, version_id: int, items: Sequence[contract.PredictionItem]
    ) -> dict[str, int]:
        return self._post_in_chunks(
            contract.PREDICTIONS.format(pk=version_id),
            contract.PREDICTIONS_ITEMS,
            items,
            contract.PREDICTIONS_TOTALS,
        )

    def _post_in_chunks(
        self, path: str, key: str, items: Sequence[Mapping], totals: tuple[str, ...]
    ) -> dict[str, int]:
        """Post `items` under `key` in as many requests as keep each body under
        POST_MAX_BYTES and PREDICTIONS_PER_POST items: a prediction with its heat maps is
        about 6 KB, and Django refuses (413) a JSON body above DATA_UPLOAD_MAX_MEMORY_SIZE."""
        summed = dict.fromkeys(totals, 0)
        for chunk in _chunks(items, PREDICTIONS_PER_POST, POST_MAX_BYTES):
            answer = self._request("POST", path, json={key: chunk}).json()
            for name in totals:
                summed[name] += answer[name]
        return summed

    def _claim(self, path: str) -> bool:
        try:
            self._request("POST", path)
        except ApiRefusal as refusal:
            if refusal.status == 409:
                return False
            raise
        return True


def _chunks(items: Sequence[Mapping], most: int, max_bytes: int) -> Iterator[list[Mapping]]:
    """Consecutive runs of `items`, each of at most `most` items and (as JSON) about
    `max_bytes`; an item larger than that on its own is a chunk by itself."""
    chunk: list[Mapping] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":"))) + 1
        if chunk and (len(chunk) >= most or size + item_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


class ApiRefusal(WorkerError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Features:
    """Feature files on the worker's disk; missing ones are downloaded and extracted."""

    def __init__(self, client: ApiClient, config: WorkerConfig) -> None:
        self.client, self.config = client, config
        self._extractor: FeatureExtractor | None = None

    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = FeatureExtractor(
                visual_weights=self.config.visual_weights,
                audio_weights=self.config.audio_weights,
                device=resolve_device(self.config.train.device),
            )
        return self._extractor

    def extract(self, video_id: str) -> Path:
        with tempfile.TemporaryDirectory(dir=self.config.work_dir) as folder:
            clip = self.client.download(video_id, Path(folder) / f"{video_id}.mp4")
            failures = self.extractor.extract([(video_id, clip)], self.config.features_dir)
        if video_id in failures:
            raise WorkerError(str(failures[video_id]))
        return feature_path(self.config.features_dir, video_id)

    def ensure(self, video_ids: Iterable[str]) -> FeatureStore:
        for video_id in sorted(set(video_ids)):
            if not feature_path(self.config.features_dir, video_id).exists():
                logger.info("features of %s are not on this worker; extracting them", video_id)
                self.extract(video_id)
        return FeatureStore(self.config.features_dir)


def _prepare(config: WorkerConfig) -> None:
    config.features_dir.mkdir(parents=True, exist_ok=True)


def extract_features_job(client: ApiClient, config: WorkerConfig, video_id: str) -> str:
    """Claim, extract and report one video's features. Returns what happened."""
    _prepare(config)
    if not client.claim_features(video_id):
        return "not claimed"
    try:
        Features(client, config).extract(video_id)
    except Exception as error:
        client.report_features(video_id, ok=False, error=f"{type(error).__name__}: {error}")
        logger.warning("features of %s failed: %s", video_id, error)
        return "failed"
    client.report_features(video_id, ok=True)
    return "ready"


class _ProgressReporter:
    """Posts each stage and each epoch's end (stage, epoch, loss, validation accuracy)."""

    def __init__(self, client: ApiClient, run_id: int) -> None:
        self.client, self.run_id = client, run_id

    def __call__(self, progress: Progress) -> None:
        self.client.progress(self.run_id, asdict(progress))

    def stage(self, stage: str) -> None:
        self.client.progress(self.run_id, {"stage": stage})


def _uncovered_types(train: Sequence[Record], test: Sequence[Record]) -> list[str]:
    covered = {f"{m}/{t}" for m, t in (r.type_key for r in test)}
    return sorted({f"{m}/{t}" for m, t in (r.type_key for r in train)} - covered)


def prediction_payload(prediction: Prediction) -> contract.PredictionItem:
    """A prediction as the worker API takes it: rounded, with spatial maps for the most
    attended segments only (all T maps of every question would be megabytes)."""

    def rounded(values: list[float] | None) -> list[float] | None:
        return None if values is None else [round(v, 5) for v in values]

    spatial = None
    if prediction.spatial_maps is not None and prediction.visual_weights is not None:
        ranked = sorted(
            range(len(prediction.visual_weights)), key=lambda t: -prediction.visual_weights[t]
        )[:SPATIAL_SEGMENTS]
        segments = sorted(ranked)
        spatial = contract.SpatialMaps(
            segments=segments,
            maps=[
                [[round(v, 5) for v in row] for row in prediction.spatial_maps[t]] for t in segments
            ],
        )
    return contract.PredictionItem(
        question_id=prediction.question_id,
        answer=prediction.answer,
        confidence=round(prediction.confidence, 5),
        top3=[contract.RankedAnswer(answer=a, confidence=round(p, 5)) for a, p in prediction.top3],
        audio_weights=rounded(prediction.audio_weights),
        visual_weights=rounded(prediction.visual_weights),
        spatial_maps=spatial,
    )


def train_job(client: ApiClient, config: WorkerConfig, run_id: int) -> dict:
    """Claim a run; train on the platform's export; record the version; post predictions."""
    _prepare(config)
    if not client.claim_run(run_id):
        return {"run": run_id, "claimed": False}
    reporter = _ProgressReporter(client, run_id)
    started = time.monotonic()
    try:
        reporter.stage("export")
        dataset = client.dataset()
        splits = {name: parse_records(dataset[name], source=f"{name} split") for name in SPLITS}
        if len(splits["train"]) < config.min_pairs:
            raise WorkerError(
                f"only {len(splits['train'])} accepted pair(s) in the training split; at least "
                f"{config.min_pairs} are needed (TRAIN_MIN_PAIRS)"
            )
        reporter.stage("features")
        features = Features(client, config)
        store = features.ensure(r.video_id for records in splits.values() for r in records)
        notes = []
        if not splits["val"]:
            notes.append("No validation videos yet: the last epoch was kept.")
        variant, result, chosen = _train_variants(splits, store, config, reporter)
        if chosen:
            notes.append(chosen)
        trained_baselines: dict[str, TrainResult] = {}
        for name in config.baselines:
            reporter.stage(f"baseline {name}")
            trained_baselines[name] = train(
                splits["train"], splits["val"], store, variant=name, config=config.train
            )
        metrics: dict = {}
        baselines: dict = {}
        if splits["test"]:
            reporter.stage("evaluation")
            table = evaluate(result.model, result.vocabulary, splits["test"], store)
            metrics = table.to_json()
            rows = {variant: table}
            for name, trained in trained_baselines.items():
                rows[name] = evaluate(trained.model, trained.vocabulary, splits["test"], store)
                baselines[name] = rows[name].to_json()
            logger.info("run %s on the test split:\n%s", run_id, format_table2(rows))
            uncovered = _uncovered_types(splits["train"], splits["test"])
            if uncovered:
                notes.append(f"No test examples of: {', '.join(uncovered)}.")
        else:
            notes.append("No test videos yet: no held-out breakdown.")
        checkpoint = save_checkpoint(
            config.work_dir / f"run-{run_id}.pt",
            result.model,
            result.vocabulary,
            extra={"run": run_id, "dataset_hash": dataset["hash"]},
        )
        device = resolve_device(config.train.device)
        finished = contract.TrainingResult(
            dataset_hash=dataset["hash"],
            dataset_counts=dataset["counts"],
            config={
                "variant": variant,
                "variants": list(config.variants),
                "baselines": list(config.baselines),
                "train": asdict(config.train),
                "model": result.model.config.to_json(),
            },
            device=str(device) if device.type == "cpu" else _device_name(device),
            duration_seconds=round(time.monotonic() - started, 3),
            best_epoch=result.best_epoch,
            best_val_accuracy=result.best_val_accuracy,
            metrics=metrics,
            baselines=baselines,
            notes=" ".join(notes),
        )
        answer = client.finish(run_id, finished, checkpoint)
    except Exception as error:
        logger.exception("training run %s failed", run_id)
        try:
            client.fail(run_id, f"{type(error).__name__}: {error}")
        except ApiRefusal as refusal:  # e.g. the reaper gave the run up meanwhile
            logger.warning("could not record the failure of run %s: %s", run_id, refusal)
        return {"run": run_id, "claimed": True, "failed": str(error)}
    finally:
        (config.work_dir / f"run-{run_id}.pt").unlink(missing_ok=True)
    version_id = answer[contract.FINISH_VERSION]
    outcome = {"run": run_id, "claimed": True, "version": version_id}
    # The version stands whatever happens next: its predictions are sent again by beat
    # (predictions-check), its scores by the next retrain.
    live = None
    try:
        live = parse_records(client.live_questions(), source="live questions", labelled=False)
        outcome.update(predict_live(client, features, result, version_id, live))
    except Exception as error:
        logger.exception("predictions of version %s failed", version_id)
        outcome["predictions_failed"] = str(error)
    blind = trained_baselines.get(BLIND_BASELINE)
    if blind is not None and live:
        try:
            scores = blind_scores(blind.model, blind.vocabulary, live)
            outcome["blind_scores"] = client.post_blind_scores(version_id, scores)
        except Exception as error:
            logger.exception("blind scores of version %s failed", version_id)
            outcome["blind_scores_failed"] = str(error)
    return outcome


def _train_variants(
    splits: dict[str, list[Record]], store: FeatureStore, config: WorkerConfig, reporter
) -> tuple[str, TrainResult, str]:
    """Train each configured variant; return the best on the validation split (the first
    when there is none), its result, and a note saying which was kept and why."""
    results: dict[str, TrainResult] = {}
    for variant in config.variants:
        if len(config.variants) > 1:
            reporter.stage(f"training {variant}")
        results[variant] = train(
            splits["train"],
            splits["val"],
            store,
            variant=variant,
            config=config.train,
            on_progress=reporter,
        )
    if len(results) == 1:
        variant = next(iter(results))
        return variant, results[variant], ""
    scored = {v: r.best_val_accuracy for v, r in results.items() if r.best_val_accuracy is not None}
    if not scored:
        variant = config.variants[0]
        return variant, results[variant], f"Kept {variant}: no validation split to compare by."
    variant = max(scored, key=lambda v: (scored[v], -config.variants.index(v)))
    compared = ", ".join(f"{v} {100 * a:.1f} %" for v, a in scored.items())
    return variant, results[variant], f"Kept {variant}, best on validation ({compared})."


def predict_live(
    client: ApiClient, features: Features, result, version_id: int, live: list[Record]
) -> dict:
    """The new version's predictions for every live question, posted back."""
    if not live:
        return contract.PredictionsStored(stored=0, unchanged=0)
    store = features.ensure(r.video_id for r in live)
    predictions = predict(result.model, result.vocabulary, live, store)
    return client.post_predictions(version_id, [prediction_payload(p) for p in predictions])


def predict_job(client: ApiClient, config: WorkerConfig, version_id: int) -> dict:
    """Suggestions of a model version for the open questions that have none yet: their
    features extracted first when this worker lacks them, the version's checkpoint downloaded
    once, predictions posted (idempotent on the server), then the task reported done so beat
    may send the next. A failure leaves it unreported: beat sends it again later."""
    _prepare(config)
    records = parse_records(
        client.unpredicted(version_id, PREDICT_BATCH), source="open questions", labelled=False
    )
    if not records:
        client.predictions_done(version_id)
        return {"version": version_id, "stored": 0, "unchanged": 0}
    checkpoint = config.work_dir / "versions" / f"version-{version_id}.pt"
    if not checkpoint.exists():
        client.checkpoint(version_id, checkpoint)
    model, vocabulary, _ = load_checkpoint(checkpoint, config.train.device)
    store = Features(client, config).ensure(r.video_id for r in records)
    predictions = predict(model, vocabulary, records, store)
    outcome = client.post_predictions(version_id, [prediction_payload(p) for p in predictions])
    remaining = client.predictions_done(version_id)
    return {"version": version_id, **outcome, "remaining": remaining}


def _device_name(device) -> str:
    import torch

    return f"{device} ({torch.cuda.get_device_name(device)})"
