"""The gpu worker's Celery app: queue `gpu`, one task at a time, CUDA only inside a task.

    celery -A config.gpu_worker worker -Q gpu --concurrency 1 --max-tasks-per-child 1

It never loads Django settings and is given no database credentials: its tasks reach the
platform through the worker API (AVQA_API_URL, with the token in AVQA_API_TOKEN or the file
named by AVQA_API_TOKEN_FILE). Jobs live in qa_model/worker.py; the tasks here only build
their configuration from the environment.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from config.broker import broker_settings
from config.env import env_float, env_int, env_str
from qa_model import contract

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("AVQA_VAR_DIR", str(BASE_DIR / "var"))).resolve()
TASK_TIME_LIMIT = env_float(
    "GPU_TASK_TIME_LIMIT_SECONDS",
    contract.GPU_TASK_TIME_LIMIT_SECONDS,
    minimum=contract.GPU_TASK_TIME_LIMIT_MIN_SECONDS,
)

# No fix-ups: importing `config` names the Django settings in the environment, and Celery's
# Django fix-up would then load them when the worker starts; in the container (production
# settings, no secret key, no database) that start-up fails.
app = Celery("avqa-gpu", fixups=())
app.conf.update(
    **broker_settings(env_str("REDIS_URL", ""), VAR_DIR, task_time_limit=TASK_TIME_LIMIT),
    task_default_queue=contract.GPU_QUEUE,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # as the web side: never give up on the broker
    # A message is acknowledged only when its task ends, one at a time, so a worker killed
    # mid-run leaves the message to be redelivered (and the claim makes the redelivery do
    # nothing twice); a fresh child per task frees CUDA memory between runs (docs/model.md).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_concurrency=1,
    worker_max_tasks_per_child=1,
    task_time_limit=TASK_TIME_LIMIT,
)


def _variants(value: str) -> tuple[str, ...]:
    """TRAIN_VARIANTS: comma-separated known variants, refused when the task starts rather than
    hours into a run."""
    from qa_model.model import VARIANTS

    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise RuntimeError(
            f"TRAIN_VARIANTS: unknown variant(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(VARIANTS)}"
        )
    return names


def _baselines(value: str) -> tuple[str, ...]:
    """TRAIN_BASELINES: variants, or "none"."""
    return () if value.strip().lower() == "none" else _variants(value)


def worker_config():
    """The worker's configuration from the environment (read when a task runs)."""
    from qa_model.training import TrainConfig
    from qa_model.worker import WorkerConfig

    token = env_str("AVQA_API_TOKEN", "")
    token_file = env_str("AVQA_API_TOKEN_FILE", "")
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    if not token:
        raise RuntimeError("set AVQA_API_TOKEN or AVQA_API_TOKEN_FILE (manage.py worker_token)")
    return WorkerConfig(
        api_url=env_str("AVQA_API_URL", "http://127.0.0.1:8000"),
        token=token,
        work_dir=Path(env_str("AVQA_WORKER_DIR", str(VAR_DIR / "gpu-worker"))),
        variants=_variants(
            env_str("TRAIN_VARIANTS", "")
            or env_str("TRAIN_VARIANT", ",".join(contract.TRAIN_VARIANTS))
        ),
        baselines=_baselines(env_str("TRAIN_BASELINES", ",".join(contract.TRAIN_BASELINES))),
        train=TrainConfig(
            epochs=env_int("TRAIN_EPOCHS", contract.TRAIN_EPOCHS, minimum=1),
            grounding_epochs=env_int(
                "TRAIN_GROUNDING_EPOCHS", contract.TRAIN_GROUNDING_EPOCHS, minimum=0
            ),
            batch_size=env_int("TRAIN_BATCH_SIZE", contract.TRAIN_BATCH_SIZE, minimum=1),
            learning_rate=env_float(
                "TRAIN_LEARNING_RATE", contract.TRAIN_LEARNING_RATE, minimum=0.0
            ),
            device=env_str("TRAIN_DEVICE", "") or None,
        ),
        min_pairs=env_int("TRAIN_MIN_PAIRS", contract.TRAIN_MIN_PAIRS, minimum=1),
        visual_weights=env_str("RESNET18_WEIGHTS", "") or None,
        audio_weights=env_str("VGGISH_WEIGHTS", "") or None,
    )


@app.task(name=contract.TASK_EXTRACT)
def extract_features(video_id: str) -> str:
    from qa_model.worker import ApiClient, extract_features_job

    config = worker_config()
    return extract_features_job(ApiClient(config), config, video_id)


@app.task(name=contract.TASK_TRAIN)
def train(run_id: int) -> dict:
    from qa_model.worker import ApiClient, train_job

    config = worker_config()
    return train_job(ApiClient(config), config, run_id)


@app.task(name=contract.TASK_PREDICT)
def predict(version_id: int) -> dict:
    from qa_model.worker import ApiClient, predict_job

    config = worker_config()
    return predict_job(ApiClient(config), config, version_id)
