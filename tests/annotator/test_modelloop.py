"""The model loop's bookkeeping: when runs start, that each is claimed and recorded once, how
dead workers are recovered, and that predictions are stored exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from annotator import errors, modelloop
from annotator.models import (
    FeatureStatus,
    ModelVersion,
    Prediction,
    Question,
    RunStatus,
    TrainingRun,
    Video,
)
from tests.annotator.helpers import ask, video_make, vote

RESULT = {
    "dataset_hash": "0" * 64,
    "dataset_counts": {"train": {"pairs": 3, "videos": 1, "types": {}}},
    "config": {"variant": "avst"},
    "device": "cpu",
    "duration_seconds": 1.5,
    "best_epoch": 1,
    "best_val_accuracy": None,
    "metrics": {},
    "notes": "",
}


@pytest.fixture
def accept(make_annotator):
    """accept(n): n accepted questions (author alice, answered by bob and carol)."""
    people = [make_annotator(name) for name in ("alice", "bob", "carol")]

    def make(count: int, video: Video | None = None) -> list[Question]:
        questions = []
        for index in range(count):
            target = video or video_make()
            question = ask(people[0], target, template_id=1 + index % 5)
            answer = question.template.answers[0]
            vote(people[1], question, answer)
            vote(people[2], question, answer)
            question.refresh_from_db()
            questions.append(question)
        return questions

    return make


def finish(run: TrainingRun) -> tuple[ModelVersion, bool]:
    return modelloop.training_run_finish(
        run, result=RESULT, checkpoint=ContentFile(b"weights", name="w.pt")
    )


def claimed_run() -> TrainingRun:
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    assert modelloop.training_run_claim(run)
    return run


class TestRetrainCheck:
    def test_it_waits_for_enough_new_accepted_pairs(self, accept, settings):
        settings.RETRAIN_MIN_NEW = 3
        accept(2)
        assert modelloop.retrain_check() is None
        accept(1)
        run = modelloop.retrain_check()
        assert run.status == RunStatus.QUEUED and run.accepted_pairs == 3
        assert run.trigger == TrainingRun.Trigger.SCHEDULE

    def test_a_second_beat_does_not_queue_a_second_run(self, accept, settings):
        settings.RETRAIN_MIN_NEW = 1
        accept(1)
        assert modelloop.retrain_check() is not None
        assert modelloop.retrain_check() is None
        assert TrainingRun.objects.count() == 1

    @pytest.mark.slow
    def test_it_counts_from_the_last_model_version(self, accept, settings):
        settings.RETRAIN_MIN_NEW = 2
        accept(2)
        run = modelloop.retrain_check()
        modelloop.training_run_claim(run)
        finish(run)
        accept(1)
        assert modelloop.retrain_check() is None
        accept(1)
        assert modelloop.retrain_check().accepted_pairs == 4

    def test_a_failed_run_is_not_retried_on_the_same_data(self, accept, settings):
        settings.RETRAIN_MIN_NEW = 1
        accept(1)
        run = modelloop.retrain_check()
        modelloop.training_run_claim(run)
        modelloop.training_run_fail(run, error="out of memory")
        assert modelloop.retrain_check() is None
        accept(1)
        assert modelloop.retrain_check() is not None

    def test_retrain_now_needs_no_new_pairs_but_refuses_a_second_active_run(self, reviewer):
        run = modelloop.retrain_now(requested_by=reviewer)
        assert run.trigger == TrainingRun.Trigger.ADMIN and run.requested_by == reviewer
        with pytest.raises(errors.RunActive, match="already queued or running"):
            modelloop.retrain_now(requested_by=reviewer)
        assert TrainingRun.objects.count() == 1


class TestRuns:
    def test_a_run_is_claimed_once(self, db):
        run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
        assert modelloop.training_run_claim(run) is True
        duplicate = TrainingRun.objects.get(pk=run.pk)
        assert modelloop.training_run_claim(duplicate) is False
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING and run.attempts == 1

    def test_progress_is_recorded_while_running_only(self, db):
        run = claimed_run()
        modelloop.training_run_progress(run, {"stage": "qa", "epoch": 2, "epochs": 30})
        run.refresh_from_db()
        assert run.progress["epoch"] == 2 and run.heartbeat_at is not None
        modelloop.training_run_fail(run, error="boom")
        with pytest.raises(errors.NotClaimed, match="is failed, not running"):
            modelloop.training_run_progress(run, {"stage": "qa"})

    def test_a_finished_run_is_recorded_once_as_the_active_version(self, db, settings, tmp_path):
        first, created = finish(claimed_run())
        assert created and first.number == 1 and first.is_active
        second_run = claimed_run()
        second, _ = finish(second_run)
        again, created_again = finish(second_run)
        assert (again.pk, created_again) == (second.pk, False)
        first.refresh_from_db()
        assert second.number == 2 and second.is_active and not first.is_active
        assert ModelVersion.objects.count() == 2
        assert TrainingRun.objects.get(pk=second_run.pk).status == RunStatus.SUCCEEDED
        assert second.checkpoint.read() == b"weights"

    def test_a_failed_run_cannot_be_recorded(self, db, settings):
        run = claimed_run()
        modelloop.training_run_fail(run, error="boom")
        with pytest.raises(errors.NotClaimed):
            finish(run)
        assert not ModelVersion.objects.exists()
        assert not list((settings.MEDIA_ROOT / "models").glob("*"))


class TestReaper:
    def test_a_silent_run_is_requeued_then_given_up(self, db, settings):
        settings.RUN_STALE_SECONDS, settings.RUN_MAX_ATTEMPTS = 60, 2
        run = claimed_run()
        later = timezone.now() + timedelta(seconds=61)
        assert modelloop.gpu_work_reap(later)["requeued"] == 1
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED
        assert modelloop.training_run_claim(run)
        run.refresh_from_db()
        assert run.attempts == 2
        with time_machine.travel(later + timedelta(seconds=120), tick=False):
            outcome = modelloop.gpu_work_reap()
        run.refresh_from_db()
        assert outcome["failed"] == 1 and run.status == RunStatus.FAILED
        assert "stopped reporting (2 attempt(s))" in run.error

    def test_a_reporting_run_is_left_alone(self, db, settings):
        settings.RUN_STALE_SECONDS = 60
        run = claimed_run()
        assert modelloop.gpu_work_reap(timezone.now() + timedelta(seconds=30))["requeued"] == 0
        assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.RUNNING

    def test_a_silent_extraction_fails_and_can_be_retried(self, db, settings):
        settings.RUN_STALE_SECONDS = 60
        video = video_make()
        assert modelloop.video_features_claim(video)
        modelloop.gpu_work_reap(timezone.now() + timedelta(seconds=61))
        video.refresh_from_db()
        assert video.feature_status == FeatureStatus.FAILED
        assert "stopped reporting" in video.feature_error
        modelloop.video_features_queue(video)
        video.refresh_from_db()
        assert (video.feature_status, video.feature_error) == (FeatureStatus.PENDING, "")


class TestFeatures:
    def test_an_extraction_is_claimed_once_and_reported(self, db):
        video = video_make()
        assert modelloop.video_features_claim(video)
        assert not modelloop.video_features_claim(video)
        modelloop.video_features_report(video, ok=False, error="no video stream")
        video.refresh_from_db()
        assert (video.feature_status, video.feature_error) == ("failed", "no video stream")
        with pytest.raises(errors.NotClaimed):
            modelloop.video_features_report(video, ok=True)

    def test_a_new_video_is_queued_for_extraction_after_commit(
        self, db, settings, django_capture_on_commit_callbacks, tmp_path
    ):
        from annotator import services
        from qa_model.synthetic import Scene, render_scene

        settings.GPU_QUEUE = "gpu-test"
        clip = render_scene(Scene.random(3, duration_seconds=3.0), tmp_path / "clip.mp4", fps=4)
        with django_capture_on_commit_callbacks() as callbacks:
            video = services.video_create(avqa_id="fresh", source=clip)
        assert video.feature_status == FeatureStatus.PENDING
        assert len(callbacks) == 1  # the send of gpu.extract_features, only once committed


class TestPredictions:
    def test_predictions_are_stored_once(self, accept):
        question = accept(1)[0]
        version, _ = finish(claimed_run())
        item = {
            "question_id": question.pk,
            "answer": "no",
            "confidence": 0.9,
            "top3": [{"answer": "no", "confidence": 0.9}],
        }
        assert modelloop.predictions_store(version, [item]) == {"stored": 1, "unchanged": 0}
        changed = {**item, "answer": "yes"}
        assert modelloop.predictions_store(version, [changed]) == {"stored": 0, "unchanged": 1}
        assert Prediction.objects.get().answer == "no"

    def test_a_post_with_an_unknown_question_stores_nothing(self, accept):
        question = accept(1)[0]
        version, _ = finish(claimed_run())
        items = [
            {"question_id": question.pk, "answer": "no", "confidence": 0.5, "top3": []},
            {"question_id": 999_999, "answer": "no", "confidence": 0.5, "top3": []},
        ]
        with pytest.raises(errors.PredictionsInvalid, match="1 prediction"):
            modelloop.predictions_store(version, items)
        assert not Prediction.objects.exists()
