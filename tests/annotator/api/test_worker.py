"""The worker API: only the gpu worker's token opens it; claims, results and predictions are
refused when malformed or out of turn, and a refusal stores nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from annotator import accounts, modelloop
from annotator.models import ModelVersion, Prediction, QuestionStatus, TrainingRun
from qa_model.records import parse_records
from tests.annotator.api.conftest import script
from tests.annotator.helpers import ask, video_make, vote
from tests.annotator.test_modelloop import RESULT


@pytest.fixture
def questions(annotator, other_annotator, third_annotator):
    """Two questions: one accepted ("two"), one open."""
    video = video_make()
    accepted = ask(annotator, video, template_id=2)  # a counting template
    answer = accepted.template.answers[2]
    vote(other_annotator, accepted, answer)
    vote(third_annotator, accepted, answer)
    accepted.refresh_from_db()
    assert accepted.status == QuestionStatus.ACCEPTED
    return {"accepted": accepted, "open": ask(annotator, video, template_id=1)}


def run_claimed() -> TrainingRun:
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=1)
    modelloop.training_run_claim(run)
    return run


def finish_body(result: object = RESULT) -> dict:
    raw = result if isinstance(result, str) else json.dumps(result)
    return {"result": raw, "checkpoint": SimpleUploadedFile("w.pt", b"weights")}


class TestWhoMayUseIt:
    @pytest.mark.parametrize("path", ["api-worker-dataset", "api-worker-live"])
    def test_annotators_staff_and_strangers_are_refused(self, path, annotator, reviewer, owner_api):
        url = reverse(path)
        assert APIClient().get(url).status_code == 401
        assert owner_api.get(url).status_code == 401  # a browser session is not accepted here
        assert script(annotator).get(url).status_code == 403
        assert script(reviewer).get(url).status_code == 403
        wrong = APIClient()
        wrong.credentials(HTTP_AUTHORIZATION="Token not-a-token")
        assert wrong.get(url).status_code == 401

    def test_the_workers_token_opens_nothing_else(self, worker_api, video):
        assert worker_api.get(reverse("api-next-video")).status_code == 403
        assert worker_api.get(reverse("home")).status_code == 302  # to the login page

    def test_a_rotated_token_stops_working(self, worker_api, db):
        assert worker_api.get(reverse("api-worker-dataset")).status_code == 200
        accounts.model_worker_token(rotate=True)
        assert worker_api.get(reverse("api-worker-dataset")).status_code == 401


class TestData:
    def test_the_dataset_is_the_accepted_pairs_in_musicavqa_records(self, worker_api, questions):
        body = worker_api.get(reverse("api-worker-dataset")).json()
        records = [r for split in ("train", "val", "test") for r in parse_records(body[split])]
        accepted = questions["accepted"]
        assert [(r.question_id, r.answer) for r in records] == [
            (accepted.pk, accepted.accepted_answer.text)
        ]
        assert len(body["hash"]) == 64
        assert sum(split["pairs"] for split in body["counts"].values()) == 1

    def test_live_questions_carry_no_made_up_answer(self, worker_api, questions):
        records = worker_api.get(reverse("api-worker-live")).json()["records"]
        answers = {r["question_id"]: r["anser"] for r in records}
        assert answers == {
            questions["accepted"].pk: questions["accepted"].accepted_answer.text,
            questions["open"].pk: None,
        }
        assert len(parse_records(records, labelled=False)) == 2


class TestFeatures:
    def test_claim_download_and_report(self, worker_api, video, settings):
        (settings.MEDIA_ROOT / "videos").mkdir(parents=True)
        (settings.MEDIA_ROOT / video.file.name).write_bytes(b"the video bytes")
        claim = reverse("api-worker-features-claim", args=[video.avqa_id])
        assert worker_api.post(claim).status_code == 200
        again = worker_api.post(claim)
        assert again.status_code == 409 and "not claimed" in again.json()["detail"]
        response = worker_api.get(reverse("api-worker-file", args=[video.avqa_id]))
        assert b"".join(response.streaming_content) == b"the video bytes"
        report = reverse("api-worker-features-report", args=[video.avqa_id])
        answer = worker_api.post(report, {"ok": False, "error": "no audio"}, format="json")
        assert answer.json()["feature_status"] == "failed"
        video.refresh_from_db()
        assert video.feature_error == "no audio"

    def test_a_report_without_a_claim_is_refused(self, worker_api, video):
        report = reverse("api-worker-features-report", args=[video.avqa_id])
        assert worker_api.post(report, {"ok": True}, format="json").status_code == 409
        video.refresh_from_db()
        assert video.feature_status == "pending"

    def test_an_unknown_video_is_404(self, worker_api):
        claim = reverse("api-worker-features-claim", args=["nope"])
        assert worker_api.post(claim).status_code == 404


class TestRuns:
    def test_claim_progress_finish_and_a_repeated_finish(self, worker_api, db):
        run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=1)
        claim = reverse("api-worker-run-claim", args=[run.pk])
        assert worker_api.post(claim).json()["status"] == "running"
        assert worker_api.post(claim).status_code == 409
        progress = {"stage": "qa", "epoch": 3, "epochs": 30, "loss": 1.2, "val_accuracy": 0.4}
        url = reverse("api-worker-run-progress", args=[run.pk])
        assert worker_api.post(url, progress, format="json").status_code == 200
        run.refresh_from_db()
        assert run.progress == progress
        finish = reverse("api-worker-run-finish", args=[run.pk])
        first = worker_api.post(finish, finish_body(), format="multipart")
        assert first.status_code == 201
        second = worker_api.post(finish, finish_body(), format="multipart")
        assert second.status_code == 200 and second.json() == first.json()
        assert ModelVersion.objects.count() == 1

    @pytest.mark.parametrize(
        "result",
        [
            "not json",
            {**RESULT, "dataset_hash": "short"},
            {**RESULT, "best_val_accuracy": 7},
            {**RESULT, "best_epoch": 10**30},
            {**RESULT, "best_epoch": 2**31},
        ],
        ids=["not json", "bad hash", "accuracy above one", "epoch 10^30", "epoch past int32"],
    )
    def test_a_malformed_result_is_refused_and_stores_nothing(self, worker_api, result, settings):
        run = run_claimed()
        finish = reverse("api-worker-run-finish", args=[run.pk])
        assert worker_api.post(finish, finish_body(result), format="multipart").status_code == 400
        assert not ModelVersion.objects.exists()
        assert TrainingRun.objects.get(pk=run.pk).status == "running"
        assert not (settings.MEDIA_ROOT / "models").exists()

    def test_progress_numbers_past_the_columns_are_refused(self, worker_api, db):
        run = run_claimed()
        url = reverse("api-worker-run-progress", args=[run.pk])
        body = {"stage": "qa", "epoch": 10**30, "epochs": 30}
        assert worker_api.post(url, body, format="json").status_code == 400

    def test_a_failure_is_recorded(self, worker_api, db):
        run = run_claimed()
        url = reverse("api-worker-run-fail", args=[run.pk])
        response = worker_api.post(url, {"error": "CUDA out of memory"}, format="json")
        assert response.status_code == 200
        run.refresh_from_db()
        assert (run.status, run.error) == ("failed", "CUDA out of memory")

    def test_an_unknown_run_is_404(self, worker_api, db):
        assert worker_api.post(reverse("api-worker-run-claim", args=[404])).status_code == 404


class TestPredictions:
    @pytest.fixture
    def version(self, db) -> ModelVersion:
        return modelloop.training_run_finish(
            run_claimed(),
            result=RESULT,
            checkpoint=SimpleUploadedFile("w.pt", b"weights"),
        )[0]

    def item(self, question, **changes) -> dict:
        first, second = question.template.answers[:2]  # admissible: yes/no, or counts
        return {
            "question_id": question.pk,
            "answer": first,
            "confidence": 0.8,
            "top3": [{"answer": first, "confidence": 0.8}, {"answer": second, "confidence": 0.1}],
            "audio_weights": [0.1] * 10,
            "visual_weights": [0.1] * 10,
            "spatial_maps": {"segments": [4], "maps": [[[1 / 196] * 14] * 14]},
            **changes,
        }

    def post(self, api, version_id, items):
        url = reverse("api-worker-predictions", args=[version_id])
        return api.post(url, {"predictions": items}, format="json")

    def test_stored_once_whatever_the_repeats(self, worker_api, version, questions):
        items = [self.item(questions["accepted"]), self.item(questions["open"])]
        assert self.post(worker_api, version.pk, items).json() == {"stored": 2, "unchanged": 0}
        assert self.post(worker_api, version.pk, items).json() == {"stored": 0, "unchanged": 2}
        stored = Prediction.objects.get(question=questions["open"])
        assert stored.spatial_maps["segments"] == [4] and len(stored.spatial_maps["maps"][0]) == 14

    @pytest.mark.parametrize(
        "change",
        [
            {"answer": "banana"},
            {"confidence": 1.5},
            {"top3": []},
            {"visual_weights": [2.0]},
            {"spatial_maps": {"segments": [1, 2], "maps": [[[0.0] * 14] * 14]}},
            {"spatial_maps": {"segments": [1], "maps": [[[0.0] * 13] * 14]}},
            {"answer": "cello"},
        ],
        ids=[
            "unknown answer",
            "confidence",
            "no top3",
            "weights",
            "maps count",
            "map shape",
            "inadmissible",
        ],
    )
    def test_a_malformed_payload_stores_nothing(self, worker_api, version, questions, change):
        items = [self.item(questions["open"]), self.item(questions["accepted"], **change)]
        assert self.post(worker_api, version.pk, items).status_code == 400
        assert not Prediction.objects.exists()

    def test_an_unknown_question_or_version_stores_nothing(self, worker_api, version, questions):
        items = [self.item(questions["open"]), self.item(questions["open"], question_id=99_999)]
        refused = self.post(worker_api, version.pk, items)
        assert refused.status_code == 400 and "not live" in refused.json()["detail"]
        assert self.post(worker_api, 12_345, items[:1]).status_code == 404
        assert not Prediction.objects.exists()

    def test_annotators_cannot_post_predictions(self, annotator, version, questions):
        refused = self.post(script(annotator), version.pk, [self.item(questions["open"])])
        assert refused.status_code == 403
        assert not Prediction.objects.exists()
