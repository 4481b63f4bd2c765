"""Video imports as background jobs: an upload or a command names the files, a row records the
request, and a task on the default queue imports them one by one, writing its progress and each
file's outcome to the row in short transactions (on SQLite, the `make run` default, other
writers wait at most for one of them, never for a transcode)."""

from __future__ import annotations

import logging
import random
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotator import video_import
from annotator.models import ImportStatus, VideoImport

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0


def spool_folder() -> Path:
    """A new folder for one upload's files, on the media volume the worker reads too."""
    folder = Path(settings.MEDIA_ROOT) / "imports" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def import_queue(
    *,
    folder: Path,
    files: list[str],
    requested_by: object = None,
    random_offsets: bool = False,
    delete_files: bool = False,
    send: bool = True,
) -> VideoImport:
    """Record an import of `files` (names in `folder`) and send it to the default queue once
    the row is committed (`send`; a command that runs it in the foreground does not)."""
    job = VideoImport.objects.create(
        folder=str(folder),
        files=list(files),
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        random_offsets=random_offsets,
        delete_files=delete_files,
    )
    if send:
        transaction.on_commit(lambda: _send(job.pk))
    return job


def _send(import_id: int) -> None:
    from annotator import tasks

    try:
        tasks.video_import_run.delay(import_id)
    except Exception:  # the row stays queued and says so; the admin can run it again
        logger.exception("could not send import %s to the queue", import_id)


def import_run(
    import_id: int,
    *,
    on_progress: Callable[[VideoImport], None] | None = None,
    on_outcome: Callable[[str], None] | None = None,
    rng: random.Random | None = None,
) -> VideoImport | None:
    """Run a queued import (None when another delivery took it first, or it is not queued).
    `on_progress` sees the row after each update, `on_outcome` each file's outcome line; `rng`
    draws the random offsets (seeded by a command)."""
    claimed = VideoImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = VideoImport.objects.get(pk=import_id)
    folder = Path(job.folder)
    try:
        for index, name in enumerate(job.files):
            _import_one(job, index, folder / name, on_progress, rng)
            if on_outcome:
                on_outcome(job.outcomes[-1])
        _save(job, status=ImportStatus.DONE, progress=1.0, current_file="")
    except BaseException as error:
        # The uploaded files stay, so the admin can run it again from where it stopped.
        _save(job, status=ImportStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        VideoImport.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    if job.delete_files:
        shutil.rmtree(folder, ignore_errors=True)
    return job


def _import_one(job: VideoImport, index: int, path: Path, on_progress, rng) -> None:
    count = len(job.files)
    _save(job, current_file=path.name, progress=index / count)
    if on_progress:
        on_progress(job)
    last = [time.monotonic()]

    def progress(done: float, total: float) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = time.monotonic()
        _save(job, progress=(index + (done / total if total else 1.0)) / count)
        if on_progress:
            on_progress(job)

    outcome = video_import.import_file(
        path, random_offsets=job.random_offsets, rng=rng, progress=progress
    )
    job.outcomes = [*job.outcomes, outcome.line()]
    _save(
        job,
        outcomes=job.outcomes,
        files_done=index + 1,
        clips_made=job.clips_made + len(outcome.videos),
        refused=job.refused + bool(outcome.error),
        progress=(index + 1) / count,
    )
    if on_progress:
        on_progress(job)


def _save(job: VideoImport, **fields: object) -> None:
    """Write these fields at once, in a transaction of their own."""
    for name, value in fields.items():
        setattr(job, name, value)
    VideoImport.objects.filter(pk=job.pk).update(**fields)


def imports_failed_requeue(import_id: int) -> bool:
    """Queue a failed import again, from the file it stopped at (admin action)."""
    job = VideoImport.objects.filter(pk=import_id, status=ImportStatus.FAILED).first()
    if job is None:
        return False
    VideoImport.objects.filter(pk=job.pk).update(
        status=ImportStatus.QUEUED,
        files=job.files[job.files_done :],
        files_done=0,
        progress=0.0,
        error="",
        started_at=None,
        finished_at=None,
    )
    transaction.on_commit(lambda: _send(job.pk))
    return True
