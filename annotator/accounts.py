"""People: annotators (users in the annotators group), reviewers (staff) and the gpu worker's
service account (a user in the model-workers group, with an API token and no password)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from annotator.models import ANNOTATORS_GROUP

REVIEWERS_GROUP = "reviewers"

# Reviewers see everything the collection records and may act on questions (review actions);
# they do not edit videos' files, users or the catalogue.
_REVIEWER_PERMISSIONS = (
    "view_video",
    "view_questiontemplate",
    "view_answer",
    "view_question",
    "change_question",
    "view_vote",
    "view_watchsession",
    "view_statuschange",
)


@transaction.atomic
def annotator_create(*, username: str, password: str | None) -> object:
    """An annotator; with no password, one who works through the API with a token only."""
    user = get_user_model().objects.create_user(username=username, password=password)
    user.groups.add(Group.objects.get_or_create(name=ANNOTATORS_GROUP)[0])
    return user


@transaction.atomic
def reviewer_create(*, username: str, password: str) -> object:
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=True)
    group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="annotator", codename__in=_REVIEWER_PERMISSIONS
        )
    )
    user.groups.add(group)
    return user


@transaction.atomic
def model_worker_token(*, username: str = "gpu-worker", rotate: bool = False) -> str:
    """The API token of the gpu worker's service account, created on first use.

    The account has no usable password (it cannot sign in to pages) and belongs to no group
    but model-workers, so its token opens the worker API and nothing else.
    """
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get_or_create(name=settings.MODEL_WORKERS_GROUP)[0])
    if rotate:
        Token.objects.filter(user=user).delete()
    return Token.objects.get_or_create(user=user)[0].key
