"""Sending gpu work to the broker: a refused send fails nothing and loses nothing; the row is
stamped when its task reaches the broker, and the reaper sends what never did, once."""

from __future__ import annotations

import logging
from datetime import timedelta

import time_machine
from django.utils import timezone

from annotator import modelloop
from annotator.models import FeatureStatus, RunStatus, TrainingRun, Video
from tests.annotator.helpers import video_make


def test_a_sent_task_stamps_its_row(db, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = modelloop.retrain_now(requested_by=None)
    assert broker.sent == [("gpu.train", [run.pk], "gpu-test")]
    run.refresh_from_db()
    assert run.task_sent_at is not None
    assert modelloop.gpu_work_reap()["resent"] == 0


def test_a_refused_send_is_logged_and_sent_by_the_reaper(
    db, broker, django_capture_on_commit_callbacks, caplog
):
    video = video_make(feature_status=FeatureStatus.READY)
    broker.down = True
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        run = modelloop.retrain_now(requested_by=None)  # does not raise
        modelloop.video_features_queue(video)
    assert f"gpu.train({run.pk!r}) not sent" in caplog.text
    run.refresh_from_db()
    video.refresh_from_db()
    assert (run.status, run.task_sent_at) == (RunStatus.QUEUED, None)
    assert (video.feature_status, video.feature_task_sent_at) == (FeatureStatus.PENDING, None)

    # Still down: the reaper tries once, stops, and keeps both for the next beat.
    assert modelloop.gpu_work_reap()["resent"] == 0

    broker.down = False
    assert modelloop.gpu_work_reap()["resent"] == 2
    assert sorted(broker.sent) == [
        ("gpu.extract_features", [video.avqa_id], "gpu-test"),
        ("gpu.train", [run.pk], "gpu-test"),
    ]
    assert modelloop.gpu_work_reap()["resent"] == 0  # sent once, not at every beat


def test_claimed_work_is_not_sent_again(db, broker):
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    assert modelloop.training_run_claim(run)  # delivered after all, and being worked on
    assert modelloop.gpu_work_reap()["resent"] == 0
    assert broker.sent == []


def test_work_an_idle_worker_never_claimed_is_sent_again(
    db, broker, settings, django_capture_on_commit_callbacks
):
    settings.RUN_STALE_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        run = modelloop.retrain_now(requested_by=None)
    sent_at = run_sent_at(run)
    assert modelloop.gpu_work_reap(now=sent_at + timedelta(seconds=30))["resent"] == 0
    # A minute on and nothing claimed it: the message was lost, so it goes again, once.
    with time_machine.travel(sent_at + timedelta(seconds=61)):
        assert modelloop.gpu_work_reap()["resent"] == 1
        assert broker.sent == [("gpu.train", [run.pk], "gpu-test")] * 2
        assert modelloop.gpu_work_reap()["resent"] == 0


def test_queued_work_waits_without_resends_while_the_worker_is_busy(
    db, broker, settings, django_capture_on_commit_callbacks
):
    settings.RUN_STALE_SECONDS = 60
    busy = video_make(feature_status=FeatureStatus.RUNNING)
    Video.objects.filter(pk=busy.pk).update(feature_updated_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        run = modelloop.retrain_now(requested_by=None)
    Video.objects.filter(pk=busy.pk).update(feature_updated_at=None)  # not stale for the reaper
    later = run_sent_at(run) + timedelta(seconds=61)
    assert modelloop.gpu_work_reap(now=later)["resent"] == 0
    assert len(broker.sent) == 1


def run_sent_at(run: TrainingRun):
    run.refresh_from_db()
    return run.task_sent_at
