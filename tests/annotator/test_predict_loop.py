"""Suggestions for every open question: beat sends the active version a predict task when open
questions lack its prediction, never two at once, and again when one was never reported done
(a failed post, a lost worker); the worker API hands out the questions and the checkpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator import modelloop
from annotator.models import ModelVersion, Prediction, Question
from tests.annotator.helpers import ask, video_make
from tests.annotator.test_modelloop import claimed_run, finish

pytestmark = pytest.mark.django_db


@pytest.fixture
def version() -> ModelVersion:
    version, _ = finish(claimed_run())
    return version


@pytest.fixture
def open_question(annotator) -> Question:
    return ask(annotator, video_make(), template_id=2)


def prediction(question: Question) -> dict:
    return {
        "question_id": question.pk,
        "answer": "two",
        "confidence": 0.6,
        "top3": [{"answer": "two", "confidence": 0.6}],
    }


def test_an_open_question_without_a_suggestion_gets_a_predict_task_once(
    broker,
    version,
    open_question,
):
    assert modelloop.predictions_check() is True
    assert broker.sent == [("gpu.predict", [version.pk], "gpu-test")]
    # On its way: the next beats send nothing more.
    assert modelloop.predictions_check() is False
    assert len(broker.sent) == 1
    # Done, and the question has its suggestion: nothing to send.
    modelloop.predictions_store(version, [prediction(open_question)])
    assert modelloop.predictions_done(version) == 0
    assert modelloop.predictions_check() is False and len(broker.sent) == 1


def test_a_task_never_reported_done_is_sent_again(broker, version, open_question, settings):
    assert modelloop.predictions_check()
    # Its post failed: not reported done. Within the resend delay, nothing; after it, again.
    later = timezone.now() + timedelta(seconds=settings.PREDICT_RESEND_SECONDS - 5)
    assert modelloop.predictions_check(now=later) is False
    later = timezone.now() + timedelta(seconds=settings.PREDICT_RESEND_SECONDS + 5)
    assert modelloop.predictions_check(now=later) is True
    assert [name for name, _, _ in broker.sent] == ["gpu.predict", "gpu.predict"]


def test_a_refused_send_leaves_the_slot_free(broker, version, open_question):
    broker.down = True
    assert modelloop.predictions_check() is False
    version.refresh_from_db()
    assert version.predict_task_sent_at is None
    broker.down = False
    assert modelloop.predictions_check() is True


def test_nothing_is_sent_without_an_active_version_or_open_questions(broker, open_question):
    assert modelloop.predictions_check() is False
    version, _ = finish(claimed_run())
    modelloop.predictions_store(version, [prediction(open_question)])
    assert modelloop.predictions_check() is False
    assert broker.sent == []


def test_the_worker_api_hands_out_the_questions_and_the_checkpoint(version, open_question):
    from annotator.accounts import model_worker_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {model_worker_token()}")
    url = reverse("api-worker-unpredicted", args=[version.pk])
    records = client.get(url, {"limit": 10}).json()["records"]
    assert [r["question_id"] for r in records] == [open_question.pk]
    assert records[0]["anser"] is None
    checkpoint = client.get(reverse("api-worker-checkpoint", args=[version.pk]))
    assert checkpoint.status_code == 200 and b"".join(checkpoint.streaming_content) == b"weights"
    client.post(
        reverse("api-worker-predictions", args=[version.pk]),
        {"predictions": [prediction(open_question)]},
        format="json",
    )
    assert Prediction.objects.filter(version=version).count() == 1
    assert client.get(url).json()["records"] == []
    done = client.post(reverse("api-worker-predictions-done", args=[version.pk])).json()
    assert done == {"version": version.pk, "unpredicted": 0}
    # Annotators have no access to any of it.
    assert APIClient().get(url).status_code in (401, 403)


def test_an_accepted_question_without_the_versions_prediction_is_predicted_too(
    broker, version, open_question, other_annotator, third_annotator
):
    """The disagreement queue compares the active version with accepted answers: a question
    accepted without the version's prediction (asked after it was trained, or a prediction
    removed as inadmissible) is sent to the worker like an open one."""
    from tests.annotator.helpers import vote

    modelloop.predictions_store(version, [prediction(open_question)])
    accepted = ask(other_annotator, video_make(), template_id=2)
    vote(third_annotator, accepted, "two")
    vote(open_question.author, accepted, "two")
    accepted.refresh_from_db()
    assert accepted.status == "accepted"
    assert list(modelloop.questions_unpredicted(version)) == [accepted]
    assert modelloop.predictions_check() is True


def test_a_suggestion_the_template_does_not_admit_is_refused(version, annotator):
    """A1 holds for the model's suggestions too: "yes" for a counting question, in the answer
    or in the top 3, refuses the whole post."""
    from annotator import errors

    count = ask(annotator, video_make(), template_id=2)
    yes_no = ask(annotator, video_make(), template_id=1)
    top3 = [{"answer": "no", "confidence": 0.7}, {"answer": "yes", "confidence": 0.3}]
    fine = {"question_id": yes_no.pk, "answer": "no", "confidence": 0.7, "top3": top3}
    cello = [{"answer": "two", "confidence": 0.6}, {"answer": "cello", "confidence": 0.2}]
    for wrong in (
        {**prediction(count), "answer": "yes"},
        {**prediction(count), "top3": cello},
    ):
        with pytest.raises(errors.PredictionsInvalid, match="does not admit"):
            modelloop.predictions_store(version, [fine, wrong])
        assert not Prediction.objects.exists()
    assert modelloop.predictions_store(version, [fine]) == {"stored": 1, "unchanged": 0}


def test_stored_predictions_naming_inadmissible_answers_are_removed(version, annotator):
    """The migration that limits old predictions: those naming an answer their template does
    not admit go (the loop predicts them again, masked); the others stay."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("annotator.migrations.0017_admissible_predictions")
    count = ask(annotator, video_make(), template_id=2)
    other = ask(annotator, video_make(), template_id=2)
    only_two = [{"answer": "two", "confidence": 0.6}]
    with_yes = [{"answer": "two", "confidence": 0.5}, {"answer": "yes", "confidence": 0.3}]
    kept = Prediction.objects.create(
        version=version, question=count, answer="two", confidence=0.6, top3=only_two
    )
    Prediction.objects.create(
        version=version, question=other, answer="two", confidence=0.5, top3=with_yes
    )
    migration.remove_inadmissible(apps, None)
    assert list(Prediction.objects.all()) == [kept]
    assert list(modelloop.questions_unpredicted(version)) == [other]
