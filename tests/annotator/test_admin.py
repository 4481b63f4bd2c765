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
    assert (row.live_count, row.accepted_count) == (2, 1)


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
        admin_url(Question), {"action": "review_invalidate", "_selected_action": [question.pk]},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    question.refresh_from_db()
    assert question.status == QuestionStatus.INVALID
    assert question.history.last().cause == StatusChange.Cause.REVIEW


def test_a_refused_review_action_is_reported_not_applied(admin_client_, collection):
    _, open_question = collection
    response = admin_client_.post(
        admin_url(Question), {"action": "review_reopen", "_selected_action": [open_question.pk]},
        follow=True,
    )  # fmt: skip
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
