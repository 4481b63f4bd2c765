"""People: annotators (users in the annotators group) and reviewers (staff)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from annotator.models import ANNOTATORS_GROUP

REVIEWERS_GROUP = "reviewers"

# Reviewers see everything the collection records and may act on questions (review actions);
# they do not edit videos' files, users or the catalogue.
_REVIEWER_PERMISSIONS = (
    "view_video", "view_questiontemplate", "view_answer", "view_question", "change_question",
    "view_vote", "view_watchsession", "view_statuschange",
)  # fmt: skip


@transaction.atomic
def annotator_create(*, username: str, password: str) -> object:
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
