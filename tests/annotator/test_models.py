"""The database holds the rules a constraint can hold, even against code that skips the services."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotator.models import (
    Answer,
    Question,
    QuestionStatus,
    QuestionTemplate,
    Video,
    Vote,
    offer_place,
)
from tests.annotator.helpers import ask, video_make

pytestmark = pytest.mark.django_db


def rejected(**fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        fields.pop("model").objects.create(**fields)


def test_q2_a_second_live_question_on_a_template_is_rejected(annotator, other_annotator, video):
    ask(annotator, video, template_id=1)
    template = QuestionTemplate.objects.get(pk=1)
    for status in (QuestionStatus.OPEN, QuestionStatus.DISPUTED):
        rejected(
            model=Question,
            video=video,
            template=template,
            author=other_annotator,
            slot_values=["cello"],
            status=status,
        )
    Question.objects.create(
        video=video,
        template=template,
        author=other_annotator,
        slot_values=["cello"],
        status=QuestionStatus.INVALID,
    )


def test_q1_an_author_reusing_a_template_is_rejected_even_if_invalid(annotator, video):
    question = ask(annotator, video, template_id=1)
    Question.objects.filter(pk=question.pk).update(status=QuestionStatus.INVALID)
    rejected(
        model=Question,
        video=video,
        template=question.template,
        author=annotator,
        slot_values=["cello"],
        status=QuestionStatus.INVALID,
    )


def test_accepted_answer_exactly_when_accepted(annotator, video):
    yes = Answer.objects.get(text="yes")
    template = QuestionTemplate.objects.get(pk=1)
    rejected(
        model=Question,
        video=video,
        template=template,
        author=annotator,
        slot_values=["cello"],
        status=QuestionStatus.ACCEPTED,
    )
    rejected(
        model=Question,
        video=video,
        template=template,
        author=annotator,
        slot_values=["cello"],
        status=QuestionStatus.OPEN,
        accepted_answer=yes,
    )


def test_a2_one_vote_per_annotator_and_a1_answer_xor_invalid(annotator, other_annotator, video):
    question = ask(annotator, video, template_id=1)
    yes = Answer.objects.get(text="yes")
    Vote.objects.create(question=question, annotator=other_annotator, answer=yes)
    rejected(model=Vote, question=question, annotator=other_annotator, invalid=True)
    rejected(model=Vote, question=question, annotator=annotator, answer=yes, invalid=True)
    rejected(model=Vote, question=question, annotator=annotator)


def test_video_ids_are_file_name_safe():
    with pytest.raises(IntegrityError), transaction.atomic():
        video_make(avqa_id="../../etc/passwd")


def test_the_offer_ring_place_is_one_formula_in_sql_and_python(annotator, catalogue):
    videos = [video_make() for _ in range(5)]
    question = ask(annotator, videos[0], template_id=1)
    for row in [
        *Video.objects.filter(pk__in=[v.pk for v in videos]),
        Question.objects.get(pk=question.pk),
    ]:
        assert row.offer_key == offer_place(row.pk)
    places = {offer_place(pk) for pk in range(1, 10_001)}
    assert len(places) == 10_000  # every id its own place
