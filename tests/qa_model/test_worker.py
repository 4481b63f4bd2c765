"""The gpu worker's jobs against a live web app, through the worker API only: extraction of
real video files, a real (tiny-schedule) training run, its version and its predictions."""

from __future__ import annotations

import itertools

import pytest

from annotator import accounts, modelloop, services
from annotator.export import split_of
from annotator.models import (
    LIVE_STATUSES,
    FeatureStatus,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    QuestionTemplate,
    RunStatus,
    TrainingRun,
    Video,
)
from qa_model.contract import MESSAGE_MAX_CHARS
from qa_model.synthetic import Scene, render_scene
from qa_model.training import TrainConfig, load_checkpoint
from qa_model.worker import ApiClient, WorkerConfig, extract_features_job, train_job
from tests.annotator.helpers import ask, vote

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"


def video_ids_in(split: str, count: int) -> list[str]:
    """Ids of videos that the by-video split puts in `split` (the split is a hash of the id)."""
    return list(
        itertools.islice(
            (f"clip{n:04d}" for n in itertools.count() if split_of(f"clip{n:04d}") == split), count
        )
    )


@pytest.fixture
def collection(catalogue, tmp_path):
    """One training and one test video (4-s rendered clips), five accepted questions on the
    first (Audio Counting and Comparative), three accepted (Counting) and two open on the
    second."""
    people = [accounts.annotator_create(username=n, password=PASSWORD) for n in "abc"]
    videos = []
    for number, avqa_id in enumerate(video_ids_in("train", 1) + video_ids_in("test", 1)):
        clip = render_scene(
            Scene.random(number, duration_seconds=4.0), tmp_path / f"{avqa_id}.mp4", fps=4
        )
        videos.append(services.video_create(avqa_id=avqa_id, source=clip))
    templates = [QuestionTemplate.objects.get(pk=pk) for pk in (1, 2, 3, 4, 5)]
    for video in videos:
        for template in templates:
            question = ask(people[0], video, template_id=template.pk)
            if video == videos[1] and template.pk in (4, 5):
                continue  # left open
            vote(people[1], question, template.answers[0])
            vote(people[2], question, template.answers[0])
    return videos


@pytest.fixture
def worker(live_server, tmp_path):
    def make(**changes) -> tuple[ApiClient, WorkerConfig]:
        fields = {
            "api_url": live_server.url,
            "token": accounts.model_worker_token(),
            "work_dir": tmp_path / "worker",
            "train": TrainConfig(epochs=2, grounding_epochs=1, batch_size=4, device="cpu"),
            "min_pairs": 1,
        }
        config = WorkerConfig(**{**fields, **changes})
        return ApiClient(config, retries=1), config

    return make


def test_features_are_extracted_once_and_reported(collection, worker):
    client, config = worker()
    video = collection[0]
    assert extract_features_job(client, config, video.avqa_id) == "ready"
    assert extract_features_job(client, config, video.avqa_id) == "not claimed"
    video.refresh_from_db()
    assert video.feature_status == FeatureStatus.READY
    assert (config.features_dir / f"{video.avqa_id}.npz").exists()


def test_a_video_that_cannot_be_decoded_is_reported_failed(collection, worker, settings):
    client, config = worker()
    video = collection[0]
    (settings.MEDIA_ROOT / video.file.name).write_bytes(b"not a video at all")
    assert extract_features_job(client, config, video.avqa_id) == "failed"
    video.refresh_from_db()
    assert video.feature_status == FeatureStatus.FAILED and video.feature_error


def test_a_failed_extractions_long_message_is_shortened_and_stored(collection, worker):
    """The web side refuses a report over the contract's length; the worker cuts it first, so a
    long decoder message still marks the video failed instead of being lost in a 400."""
    client, _ = worker()
    video = collection[0]
    assert client.claim_features(video.avqa_id)
    client.report_features(video.avqa_id, ok=False, error="x" * (MESSAGE_MAX_CHARS + 500))
    video.refresh_from_db()
    assert video.feature_status == FeatureStatus.FAILED
    assert len(video.feature_error) <= MESSAGE_MAX_CHARS


def test_a_run_trains_records_a_version_and_posts_predictions(collection, worker, admin_user):
    client, config = worker()
    run = modelloop.retrain_now(requested_by=admin_user)

    outcome = train_job(client, config, run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.progress["stage"] == "done"
    version = ModelVersion.objects.get(run=run)
    assert outcome == {
        "run": run.pk,
        "claimed": True,
        "version": version.pk,
        "stored": 10,
        "unchanged": 0,
        "blind_scores": {"stored": 10, "skipped": 0},
    }
    assert version.is_active and version.number == 1
    assert version.dataset_counts["train"]["pairs"] == 5
    assert version.dataset_counts["test"]["pairs"] == 3
    assert version.metrics["counts"] and "All" in version.metrics["columns"]
    # The baselines, trained on the same split, scored on the same test split.
    assert set(version.baselines) == {"question_only", "audio_q", "visual_q"}
    assert "All" in version.baselines["question_only"]["columns"]
    assert version.config["variant"] == "avst"
    assert version.config["baselines"] == ["question_only", "audio_q", "visual_q"]
    assert "No validation videos yet" in version.notes
    assert "No test examples of: Audio/Comparative." in version.notes
    model, _, extra = load_checkpoint(version.checkpoint.path)
    assert model.config.vocab_size > 2 and extra["dataset_hash"] == version.dataset_hash
    # Every live question, the open one included, has the version's prediction with grounding.
    live = {q.pk for v in collection for q in v.questions.all()}
    assert set(Prediction.objects.values_list("question_id", flat=True)) == live
    open_one = Prediction.objects.filter(question__status=QuestionStatus.OPEN).first()
    assert len(open_one.visual_weights) == 10 and len(open_one.spatial_maps["segments"]) == 3
    assert not list(config.work_dir.glob("run-*.pt"))  # the upload is the only copy kept

    # Every live question is scored "answerable without watching": the probability the
    # question-only model gives the accepted answer (its leading answer when open).
    scored = Question.objects.filter(status__in=LIVE_STATUSES)
    assert not scored.filter(blind_score__isnull=True).exists()
    for question in scored:
        assert 0 <= question.blind_score <= 1
        assert question.blind_answer in question.template.answers

    # A redelivered task finds the run taken and does nothing.
    assert train_job(client, config, run.pk) == {"run": run.pk, "claimed": False}
    assert ModelVersion.objects.count() == 1 and Prediction.objects.count() == 10


def test_too_few_pairs_fail_the_run_with_a_clear_message(collection, worker, admin_user):
    client, config = worker(min_pairs=50)
    run = modelloop.retrain_now(requested_by=admin_user)
    outcome = train_job(client, config, run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "only 5 accepted pair(s) in the training split; at least 50" in run.error
    assert outcome["failed"] and not ModelVersion.objects.exists()
    assert Video.objects.filter(feature_status=FeatureStatus.PENDING).count() == 2
    assert TrainingRun.objects.count() == 1


def test_a_run_of_several_variants_keeps_the_best_on_validation(collection, worker, admin_user):
    """With TRAIN_VARIANTS listing AVST and AVST+, both train and the version is the one the
    validation split prefers; here there is no validation video, so the first is kept and the
    notes say so. No baseline configured: no scores, no baseline table."""
    client, config = worker(variants=("avst_plus", "avst"), baselines=())
    run = modelloop.retrain_now(requested_by=admin_user)
    outcome = train_job(client, config, run.pk)
    version = ModelVersion.objects.get(run=run)
    assert version.config["variant"] == "avst_plus"
    assert version.config["variants"] == ["avst_plus", "avst"]
    assert "Kept avst_plus: no validation split to compare by." in version.notes
    assert version.baselines == {} and "blind_scores" not in outcome
    model, _, _ = load_checkpoint(version.checkpoint.path)
    assert model.config.architecture == "avst_plus"
    assert not Question.objects.filter(blind_score__isnull=False).exists()
