"""The data migration loads the code catalogue into the database, exactly."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from annotator.catalogue import catalogue_sync
from annotator.models import ANNOTATORS_GROUP, Answer, QuestionTemplate
from qa_model import catalogue

pytestmark = pytest.mark.django_db


def test_the_migration_loaded_every_template_exactly():
    rows = {
        template.id: (
            template.modality,
            template.question_type,
            template.text,
            template.answer_kind,
        )
        for template in QuestionTemplate.objects.all()
    }
    expected = {
        spec.number: (spec.modality, spec.question_type, spec.text, spec.answer_kind)
        for spec in catalogue.TEMPLATES
    }
    assert rows == expected


def test_the_migration_loaded_the_42_answers_and_the_annotators_group():
    assert sorted(Answer.objects.values_list("text", flat=True)) == sorted(catalogue.ANSWERS)
    assert Group.objects.filter(name=ANNOTATORS_GROUP).exists()


def test_template_rows_know_their_slots_and_answers():
    template = QuestionTemplate.objects.get(pk=29)
    assert template.slots == ("Object", "LR", "Object", "LR")
    assert template.answers == ("yes", "no")
    assert template.fill(["cello", "left", "violin", "right"]).startswith(
        "Is the cello on the left"
    )


def test_syncing_again_changes_nothing():
    before = list(QuestionTemplate.objects.values()), list(Answer.objects.values())
    catalogue_sync()
    assert (list(QuestionTemplate.objects.values()), list(Answer.objects.values())) == before
