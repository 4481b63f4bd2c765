"""Celery tasks: thin wrappers that call services.

Beat sends them and nobody reads their results, so none is stored (ignore_result): a send then
never waits on the result backend, which holds a send for about 20 s while Redis is down.
"""

import logging

from celery import shared_task

from annotator import imports, modelloop, services
from qa_model import contract

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def watch_sessions_prune() -> int:
    """Periodic (beat): delete viewings that were never used and are too old to matter."""
    deleted = services.watch_sessions_prune()
    logger.info("pruned %d stale watch sessions", deleted)
    return deleted


# The model loop's beat tasks are named in the contract, as beat's schedule sends them by name.
@shared_task(name=contract.TASK_RETRAIN_CHECK, ignore_result=True)
def retrain_check() -> int | None:
    """Periodic (beat): queue a training run when enough new accepted pairs arrived."""
    run = modelloop.retrain_check()
    if run:
        logger.info("queued training run %s (%d accepted pairs)", run.pk, run.accepted_pairs)
    return run.pk if run else None


@shared_task(name=contract.TASK_GPU_WORK_REAP, ignore_result=True)
def gpu_work_reap() -> dict[str, int]:
    """Periodic (beat): requeue or fail gpu work whose worker stopped reporting, and send the
    gpu work that never reached the broker."""
    outcome = modelloop.gpu_work_reap()
    if any(outcome.values()):
        logger.warning("reaped stalled gpu work: %s", outcome)
    return outcome


@shared_task(ignore_result=True)
def video_import_run(import_id: int) -> None:
    """Import the files of a queued video import (admin upload, `import_videos --background`);
    its row shows progress and each file's outcome."""
    job = imports.import_run(import_id)
    if job is not None:
        logger.info(
            "import %s: %d clip(s) made, %d file(s) refused", job.pk, job.clips_made, job.refused
        )


@shared_task(name=contract.TASK_PREDICTIONS_CHECK, ignore_result=True)
def predictions_check() -> bool:
    """Periodic (beat): send the active version's predict task when open questions lack its
    suggestion."""
    return modelloop.predictions_check()
