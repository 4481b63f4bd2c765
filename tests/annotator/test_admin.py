"""The admin: every model listed, searchable and filterable; statuses change only via review."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from annotator.models import (
    Answer,
    Question,
    QuestionStatus,
    QuestionTemplate,
    StatusChange,
    Video,
    Vote,
    WatchSession,
)
from tests.annotator.helpers import ask, vote

pytestmark = pytest.mark.django_db

MODELS = (Video, QuestionTemplate, Answer, Question, Vote, WatchSession, StatusChange)


@pytest.fixture
def admin_client_(client, db):
    admin = get_user_model().objects.create_superuser("root", password="a-long-test-password")
    client.force_login(admin)
    return client


@pytest.fixture
def collection(annotator, other_annotator, third_annotator, video):
    question = ask(
        annotator, video, template_id=29, slot_values=["cello", "left", "violin", "right"]
    )
    vote(other_annotator, question, "yes")
    vote(third_annotator, question, "yes")
    open_question = ask(other_annotator, video, template_id=11, slot_values=[])
    return question, open_question


def admin_url(model, action="changelist", *args):
    return reverse(f"admin:annotator_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_model_has_a_list_and_a_detail_page(admin_client_, collection, model):
    response = admin_client_.get(admin_url(model))
    assert response.status_code == 200
    row = model.objects.first()
    assert admin_client_.get(admin_url(model, "change", row.pk)).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_detail_page_with_nothing_to_edit_offers_no_save_or_delete(
    admin_client_, collection, model
):
    from django.contrib import admin as django_admin

    model_admin = django_admin.site._registry[model]
    request = admin_client_.get(admin_url(model)).wsgi_request
    row = model.objects.first()
    form_fields = model_admin.get_fields(request, row)
    if set(form_fields) - set(model_admin.get_readonly_fields(request, row)):
        return  # something to edit: Save belongs there
    html = admin_client_.get(admin_url(model, "change", row.pk)).content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "deletelink" not in html


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_list_searches(admin_client_, collection, model):
    assert admin_client_.get(admin_url(model), {"q": "cello"}).status_code == 200


def test_questions_filter_by_status_type_and_modality(admin_client_, collection):
    accepted, _ = collection
    filters = {"template__modality": "Audio-Visual", "template__question_type": "Comparative"}
    response = admin_client_.get(admin_url(Question), {"status": "accepted", **filters})
    listed = list(response.context["cl"].result_list)
    assert listed == [accepted]


def test_video_list_shows_live_and_accepted_counts(admin_client_, collection, video):
    response = admin_client_.get(admin_url(Video))
    row = response.context["cl"].result_list[0]
    assert (row.live_questions, row.accepted_count, row.invalid_count) == (2, 1, 0)
    html = response.content.decode()
    assert "2 / 5" in html
    assert reverse("review-frame", args=[video.pk, 0]) in html  # the thumbnail


def test_the_catalogue_and_the_records_of_the_rules_cannot_be_edited_by_hand(
    admin_client_, collection
):
    for model in (QuestionTemplate, Answer, Vote, WatchSession, StatusChange, Question):
        assert admin_client_.get(admin_url(model, "add")).status_code == 403
    question = collection[0]
    admin_client_.post(admin_url(Question, "change", question.pk), {"status": "open"})
    question.refresh_from_db()
    assert question.status == QuestionStatus.ACCEPTED


def test_the_invalidate_action_goes_through_review(admin_client_, collection):
    question = collection[0]
    response = admin_client_.post(
        admin_url(Question),
        {"action": "review_invalidate", "_selected_action": [question.pk]},
        follow=True,
    )
    assert response.status_code == 200
    question.refresh_from_db()
    assert question.status == QuestionStatus.INVALID
    assert question.history.last().cause == StatusChange.Cause.REVIEW


def test_a_refused_review_action_is_reported_not_applied(admin_client_, collection):
    _, open_question = collection
    response = admin_client_.post(
        admin_url(Question),
        {"action": "review_reopen", "_selected_action": [open_question.pk]},
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert any("already open" in message for message in messages)


def test_reviewers_see_the_collection_but_not_users(client, reviewer, collection):
    client.force_login(reviewer)
    assert client.get(admin_url(Question)).status_code == 200
    assert client.get(admin_url(Vote)).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_annotators_cannot_enter_the_admin(client, annotator):
    client.force_login(annotator)
    response = client.get(admin_url(Question))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# --- the model loop --------------------------------------------------------------------------


@pytest.fixture
def loop_rows(collection):
    from django.core.files.base import ContentFile

    from annotator import modelloop
    from annotator.models import Prediction, TrainingRun
    from tests.annotator.test_modelloop import RESULT

    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=1)
    modelloop.training_run_claim(run)
    modelloop.training_run_progress(run, {"stage": "qa", "epoch": 3, "epochs": 30, "loss": 1.5})
    version, _ = modelloop.training_run_finish(
        run, result=RESULT, checkpoint=ContentFile(b"w", name="w.pt")
    )
    Prediction.objects.create(
        version=version, question=collection[0], answer="no", confidence=0.9, top3=[]
    )
    return run, version


def test_runs_versions_and_predictions_have_list_and_detail_pages(admin_client_, loop_rows):
    from annotator.models import ModelVersion, Prediction, TrainingRun

    for model in (TrainingRun, ModelVersion, Prediction):
        assert admin_client_.get(admin_url(model)).status_code == 200
        row = model.objects.first()
        assert admin_client_.get(admin_url(model, "change", row.pk)).status_code == 200
    page = admin_client_.get(admin_url(TrainingRun)).content.decode()
    assert "epoch 3/30, loss 1.500" in page and "Retrain now" in page


def test_retrain_now_queues_one_run(admin_client_, db, catalogue):
    from annotator.models import TrainingRun

    url = reverse("admin:annotator_trainingrun_retrain")
    assert admin_client_.get(url).status_code == 405
    page = admin_client_.post(url, follow=True).content.decode()
    assert "Queued training run" in page
    page = admin_client_.post(url, follow=True).content.decode()
    assert "already queued or running" in page
    assert TrainingRun.objects.count() == 1
    run = TrainingRun.objects.get()
    assert run.trigger == TrainingRun.Trigger.ADMIN
    # While it is queued or running, its list and its page follow it (reload every 5 s) ...
    refresh = 'http-equiv="refresh" content="5"'
    assert refresh in page
    assert refresh in admin_client_.get(admin_url(TrainingRun, "change", run.pk)).content.decode()
    # ... and stop once it is over.
    TrainingRun.objects.filter(pk=run.pk).update(status="failed")
    assert refresh not in admin_client_.get(admin_url(TrainingRun)).content.decode()


def test_reviewers_cannot_start_a_run(client, reviewer):
    from annotator.models import TrainingRun

    client.force_login(reviewer)
    client.post(reverse("admin:annotator_trainingrun_retrain"))
    assert not TrainingRun.objects.exists()


def test_failed_features_can_be_extracted_again(admin_client_, video):
    from annotator.models import FeatureStatus

    Video.objects.filter(pk=video.pk).update(feature_status="failed", feature_error="no audio")
    response = admin_client_.get(admin_url(Video), {"feature_status": "failed"})
    assert list(response.context["cl"].result_list) == [video]
    admin_client_.post(
        admin_url(Video), {"action": "features_retry", "_selected_action": [video.pk]}
    )
    video.refresh_from_db()
    assert (video.feature_status, video.feature_error) == (FeatureStatus.PENDING, "")
