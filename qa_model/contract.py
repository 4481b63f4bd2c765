"""The model loop's contract between the web app and the gpu worker, written once.

The web app sends the gpu worker Celery tasks by name (annotator/modelloop.py) and serves it
the worker API (annotator/api/worker.py, annotator/api/urls.py); the gpu worker registers those
tasks (config/gpu_worker.py) and calls that API (qa_model/worker.py). Neither side imports the
other, so what they must agree on lives here: task and queue names, the worker API's paths, the
payloads' keys and the limits both sides check. tests/test_contract.py checks that both
sides do.

Plain Python, importable without Django, Celery or PyTorch: the gpu worker never loads Django
and the web app never loads PyTorch.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypedDict

# --- Celery -----------------------------------------------------------------------------------

# The gpu worker's tasks, sent by name. Each takes one argument: a video's AVQA id, a training
# run's id, a model version's id.
TASK_EXTRACT: Final = "gpu.extract_features"
TASK_TRAIN: Final = "gpu.train"
TASK_PREDICT: Final = "gpu.predict"
GPU_TASKS: Final = (TASK_EXTRACT, TASK_TRAIN, TASK_PREDICT)

# The queue the gpu worker consumes (the web app's GPU_QUEUE setting defaults to it).
GPU_QUEUE: Final = "gpu"

# The web app's beat tasks that drive the loop (annotator/tasks.py; beat: config/settings.py).
TASK_RETRAIN_CHECK: Final = "annotator.tasks.retrain_check"
TASK_GPU_WORK_REAP: Final = "annotator.tasks.gpu_work_reap"
TASK_PREDICTIONS_CHECK: Final = "annotator.tasks.predictions_check"

# Hard limit on one gpu task: a training run (its variants and baselines) may take hours, and
# half a day is taken to be past a healthy one. The broker's visibility timeout is set above it
# (config/broker.py). At least a minute, the smallest that the settings accept.
GPU_TASK_TIME_LIMIT_SECONDS: Final = 12 * 3600.0
GPU_TASK_TIME_LIMIT_MIN_SECONDS: Final = 60.0

# --- The worker API's paths -------------------------------------------------------------------

# Where the worker API is mounted on the web app; the paths below are relative to it, with
# `{video_id}` a video's AVQA id (a slug) and `{pk}` a run's or a version's id.
WORKER_API_ROOT: Final = "/api/worker/"

DATASET: Final = "dataset/"
LIVE_QUESTIONS: Final = "questions/live/"
FEATURES_CLAIM: Final = "videos/{video_id}/features/claim/"
FEATURES_REPORT: Final = "videos/{video_id}/features/"
VIDEO_FILE: Final = "videos/{video_id}/file/"
RUN_CLAIM: Final = "runs/{pk}/claim/"
RUN_PROGRESS: Final = "runs/{pk}/progress/"
RUN_FAIL: Final = "runs/{pk}/fail/"
RUN_FINISH: Final = "runs/{pk}/finish/"
PREDICTIONS: Final = "versions/{pk}/predictions/"
PREDICTIONS_DONE: Final = "versions/{pk}/predictions/done/"
UNPREDICTED: Final = "versions/{pk}/questions/unpredicted/"
CHECKPOINT: Final = "versions/{pk}/checkpoint/"
BLIND_SCORES: Final = "versions/{pk}/blind-scores/"
WORKER_PATHS: Final = (
    DATASET,
    LIVE_QUESTIONS,
    FEATURES_CLAIM,
    FEATURES_REPORT,
    VIDEO_FILE,
    RUN_CLAIM,
    RUN_PROGRESS,
    RUN_FAIL,
    RUN_FINISH,
    PREDICTIONS,
    PREDICTIONS_DONE,
    UNPREDICTED,
    CHECKPOINT,
    BLIND_SCORES,
)

# The Django path converter of each placeholder.
_CONVERTERS: Final = {"video_id": "slug", "pk": "int"}


def route(template: str) -> str:
    """A path template as a Django route: "runs/{pk}/claim/" → "runs/<int:pk>/claim/"."""
    return re.sub(r"\{(\w+)\}", lambda m: f"<{_CONVERTERS[m[1]]}:{m[1]}>", template)


# GET UNPREDICTED?limit=N: how many questions one answer lists (clamped to 1 … the most).
UNPREDICTED_LIMIT: Final = "limit"
UNPREDICTED_LIMIT_DEFAULT: Final = 1000
UNPREDICTED_LIMIT_MAX: Final = 5000  # as ITEMS_PER_POST_MAX: bounds one request's work

# --- Payloads ---------------------------------------------------------------------------------

# The longest error message (of a run, of a video's extraction) or run notes the worker API
# takes: a few paragraphs, room for an exception's message, not for a log. The worker cuts a
# run's failure to it, and the web side cuts what it stores.
MESSAGE_MAX_CHARS: Final = 4000
# ModelVersion.device is a 64-character column; a progress stage is a short label ("export",
# "baseline question_only").
DEVICE_MAX_CHARS: Final = 64
STAGE_MAX_CHARS: Final = 32


class FeatureReport(TypedDict):
    """POST FEATURES_REPORT: the outcome of a claimed extraction."""

    ok: bool
    error: str  # at most MESSAGE_MAX_CHARS; may be left out when ok


class RunFailure(TypedDict):
    """POST RUN_FAIL."""

    error: str  # at most MESSAGE_MAX_CHARS


class RunProgress(TypedDict, total=False):
    """POST RUN_PROGRESS: a stage, and each epoch's end (qa_model.training.Progress)."""

    stage: str  # required; at most STAGE_MAX_CHARS
    epoch: int
    epochs: int
    loss: float | None
    val_accuracy: float | None


# POST RUN_FINISH is a multipart form: the result as JSON in one field, the checkpoint file in
# the other. The answer names the version: {"version": id, "number": n}.
FINISH_RESULT: Final = "result"
FINISH_CHECKPOINT: Final = "checkpoint"
FINISH_VERSION: Final = "version"


class TrainingResult(TypedDict):
    """A finished run, as the worker posts it and the version records it."""

    dataset_hash: str  # SHA-256 of the export, 64 hex digits
    dataset_counts: dict[str, Any]
    config: dict[str, Any]  # variant, variants, baselines, train, model
    device: str  # at most DEVICE_MAX_CHARS
    duration_seconds: float
    best_epoch: int
    best_val_accuracy: float | None
    metrics: dict[str, Any]  # Table 2 on the test split, or {}
    baselines: dict[str, Any]  # the same for each baseline; may be left out
    notes: str  # at most MESSAGE_MAX_CHARS


TRAINING_RESULT_KEYS: Final = frozenset(TrainingResult.__annotations__)


class RankedAnswer(TypedDict):
    answer: str
    confidence: float


class SpatialMaps(TypedDict):
    segments: list[int]  # at most SPATIAL_SEGMENTS_MAX seconds, each below SEGMENTS_MAX
    maps: list[list[list[float]]]  # one MAP_SIDE × MAP_SIDE map per segment


class PredictionItem(TypedDict):
    """One question's prediction, as posted to PREDICTIONS and stored as a Prediction."""

    question_id: int
    answer: str
    confidence: float
    top3: list[RankedAnswer]  # 1 … TOP_ANSWERS, best first
    audio_weights: list[float] | None  # per second, at most SEGMENTS_MAX
    visual_weights: list[float] | None
    spatial_maps: SpatialMaps | None


PREDICTION_KEYS: Final = frozenset(PredictionItem.__annotations__)
# What a stored Prediction keeps of an item (the question is its foreign key).
PREDICTION_FIELDS: Final = tuple(
    key for key in PredictionItem.__annotations__ if key != "question_id"
)


class BlindScore(TypedDict):
    """One question's score from the question-only model: "answerable without watching"."""

    question_id: int
    score: float
    answer: str


BLIND_SCORE_KEYS: Final = frozenset(BlindScore.__annotations__)

# The key of the item list in each post.
PREDICTIONS_ITEMS: Final = "predictions"
BLIND_SCORES_ITEMS: Final = "scores"


class PredictionsStored(TypedDict):
    """The answer to a PREDICTIONS post (the worker sums them over its posts)."""

    stored: int
    unchanged: int  # already stored for that version and question: left as it was


class BlindScoresStored(TypedDict):
    """The answer to a BLIND_SCORES post."""

    stored: int
    skipped: int  # questions gone since


PREDICTIONS_TOTALS: Final = tuple(PredictionsStored.__annotations__)
BLIND_SCORES_TOTALS: Final = tuple(BlindScoresStored.__annotations__)
# GET DATASET, LIVE_QUESTIONS, UNPREDICTED: MUSIC-AVQA records; the last two under this key.
RECORDS: Final = "records"
# POST PREDICTIONS_DONE answers how many open questions still lack the version's prediction.
UNPREDICTED_COUNT: Final = "unpredicted"

# --- Shared numbers ---------------------------------------------------------------------------

# MUSIC-AVQA's clips are 60 s long (the import cuts clips of this length by default).
CLIP_SECONDS: Final = 60
# Attention weights have one value per sampled second (10 by default), so at most one per
# second of a clip.
SEGMENTS_MAX: Final = CLIP_SECONDS
# Frames are resized to 224 × 224 (ResNet-18's input size); ResNet-18 up to layer4 with its
# stride set to 1 divides each side by 16, so the sound-source maps are 14 × 14.
FRAME_SIDE: Final = 224
MAP_SIDE: Final = FRAME_SIDE // 16
# Spatial maps are posted for the 3 most attended segments (as in the paper's Fig. 4), not for
# all of them (a map is about 1.5 KB of JSON); the API takes up to 8, a bound on a post's size.
SPATIAL_SEGMENTS: Final = 3
SPATIAL_SEGMENTS_MAX: Final = 8
# A prediction names its most likely answers, 3 of them (qa_model.evaluation.predict).
TOP_ANSWERS: Final = 3
# The most items one post may carry, a bound on one request's work; the worker posts fewer, in
# bodies under POST_MAX_BYTES.
ITEMS_PER_POST_MAX: Final = 5000
PREDICTIONS_PER_POST: Final = 500
# Each post's JSON body stays under this: Django refuses (413) a body above
# DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default, and a prediction with its maps is about 6 KB.
POST_MAX_BYTES: Final = 3 * 1024**2 // 2
# The open questions one predict task handles (at most UNPREDICTED_LIMIT_MAX); beat sends the
# next task for the rest.
PREDICT_BATCH: Final = 2000
# The baseline whose scores say "answerable without watching".
BLIND_BASELINE: Final = "question_only"

# --- Training defaults (the gpu worker's TRAIN_* environment) ---------------------------------

# 30 epochs of question answering (stage 2) as the paper trains, after 2 of spatial grounding
# (stage 1), batches of 64 at learning rate 1e-4: qa_model.training.TrainConfig's defaults.
TRAIN_EPOCHS: Final = 30
TRAIN_GROUNDING_EPOCHS: Final = 2
TRAIN_BATCH_SIZE: Final = 64
TRAIN_LEARNING_RATE: Final = 1e-4
# Fewer accepted pairs than this in the training split fail the run with a message, rather than
# train a model on a handful.
TRAIN_MIN_PAIRS: Final = 20
# The variants a run trains (the best on the validation split becomes the version), and the
# baselines trained beside them (what sound, sight and both add to the question).
TRAIN_VARIANTS: Final = ("avst", "avst_plus")
TRAIN_BASELINES: Final = ("question_only", "audio_q", "visual_q")
