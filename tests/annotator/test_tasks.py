"""Celery tasks, run by a real worker through the real broker."""

from __future__ import annotations

import time
from datetime import timedelta

import time_machine
from django.utils import timezone

from annotator import services
from annotator.models import WatchSession
from annotator.tasks import watch_sessions_prune


def wait_until(condition, timeout: float = 45.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def test_a_real_worker_prunes_stale_viewings(celery_worker_process, catalogue, make_annotator):
    from tests.annotator.helpers import video_make

    annotator, video = make_annotator("alice"), video_make()
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        stale = services.watch_start(annotator=annotator, video=video)
    fresh = services.watch_start(annotator=annotator, video=video)

    watch_sessions_prune.apply_async(queue=celery_worker_process)

    assert wait_until(lambda: not WatchSession.objects.filter(pk=stale.pk).exists())
    assert WatchSession.objects.filter(pk=fresh.pk).exists()
