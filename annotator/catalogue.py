"""Loads the MUSIC-AVQA catalogue (qa_model.catalogue, the one source of truth) into the DB."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.apps.registry import Apps

from annotator.models import ANNOTATORS_GROUP
from qa_model import catalogue


def catalogue_sync(apps: Apps = global_apps) -> None:
    """Create or update the 33 templates, the 42 answers and the annotators group.

    Idempotent; `apps` is the migration state when called from a data migration.
    """
    template_model = apps.get_model("annotator", "QuestionTemplate")
    answer_model = apps.get_model("annotator", "Answer")
    group_model = apps.get_model("auth", "Group")
    for spec in catalogue.TEMPLATES:
        template_model.objects.update_or_create(
            pk=spec.number,
            defaults={
                "modality": spec.modality,
                "question_type": spec.question_type,
                "text": spec.text,
                "answer_kind": spec.answer_kind,
            },
        )
    for text in catalogue.ANSWERS:
        answer_model.objects.get_or_create(text=text)
    group_model.objects.get_or_create(name=ANNOTATORS_GROUP)
