"""Reads: who may do what. Annotators, reviewers (staff) and the model worker's service account
are told apart by their group or flag, and only while their account is active."""

from __future__ import annotations

from django.conf import settings

from annotator.models import ANNOTATORS_GROUP


def is_annotator(user: object) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.groups.filter(name=ANNOTATORS_GROUP).exists()
    )


def is_model_worker(user: object) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.groups.filter(name=settings.MODEL_WORKERS_GROUP).exists()
    )


def is_reviewer(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)
