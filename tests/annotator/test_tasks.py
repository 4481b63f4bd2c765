"""Celery tasks, run by a real worker through the real broker."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from annotator import services
from annotator.models import WatchSession
from annotator.tasks import watch_sessions_prune
from tests.processes import wait_until


def test_a_real_worker_prunes_stale_viewings(celery_worker_process, catalogue, make_annotator):
    from tests.annotator.helpers import video_make

    annotator, video = make_annotator("alice"), video_make()
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        stale = services.watch_start(annotator=annotator, video=video)
    fresh = services.watch_start(annotator=annotator, video=video)

    watch_sessions_prune.apply_async(queue=celery_worker_process)

    wait_until(lambda: not WatchSession.objects.filter(pk=stale.pk).exists())
    assert WatchSession.objects.filter(pk=fresh.pk).exists()
