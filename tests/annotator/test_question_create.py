"""Asking: Q1–Q3 and slot values, each refusal with its own message and nothing written."""

from __future__ import annotations

import pytest

from annotator import errors, selectors
from annotator.models import QuestionStatus, StatusChange
from tests.annotator.helpers import ask, refused, video_make, vote, watched

pytestmark = pytest.mark.django_db


def test_a_question_is_created_open_with_its_text_and_audit_entry(annotator, video):
    question = ask(annotator, video, 29, ["cello", "left", "violin", "right"])
    assert question.status == QuestionStatus.OPEN
    assert question.text == "Is the cello on the left louder than the violin on the right?"
    entry = StatusChange.objects.get(question=question)
    assert (entry.from_status, entry.to_status, entry.cause, entry.actor) == (
        "",
        "open",
        "created",
        annotator,
    )


def test_q1_an_annotator_uses_a_template_on_a_video_once(annotator, video):
    ask(annotator, video, 1)
    session = watched(annotator, video)
    refusal = refused(errors.TemplateUsedByYou, lambda: ask(annotator, video, 1, session=session))
    assert refusal.message == errors.TEMPLATE_USED_BY_YOU
    assert refusal.rule == "Q1"


def test_q1_holds_even_after_the_question_was_invalidated(
    annotator, other_annotator, third_annotator, video
):
    question = ask(annotator, video, 1)
    vote(other_annotator, question, None)
    vote(third_annotator, question, None)
    question.refresh_from_db()
    assert question.status == QuestionStatus.INVALID
    session = watched(annotator, video)
    refused(errors.TemplateUsedByYou, lambda: ask(annotator, video, 1, session=session))
    # ...while the template reopens for everyone else (A5 + Q2).
    assert ask(other_annotator, video, 1).status == QuestionStatus.OPEN


def test_q2_a_template_with_a_live_question_is_taken_for_others(annotator, other_annotator, video):
    ask(annotator, video, 7)
    session = watched(other_annotator, video)
    refusal = refused(errors.TemplateTaken, lambda: ask(other_annotator, video, 7, session=session))
    assert refusal.message == errors.TEMPLATE_TAKEN
    assert 7 not in selectors.templates_open_for(other_annotator, video).values_list(
        "pk", flat=True
    )


def test_q2_applies_per_video(annotator, other_annotator, video):
    ask(annotator, video, 7)
    assert ask(other_annotator, video_make(), 7).status == QuestionStatus.OPEN


def test_q3_a_video_takes_five_live_questions(make_annotator, video):
    for index in range(5):
        ask(make_annotator(f"asker{index}"), video, index + 1)
    late = make_annotator("late")
    session = watched(late, video)
    refusal = refused(errors.VideoFull, lambda: ask(late, video, 10, session=session))
    assert refusal.message == errors.VIDEO_FULL.format(limit=5)
    assert not selectors.templates_open_for(late, video).exists()


def test_q3_an_invalidated_question_reopens_one_slot(make_annotator, video):
    askers = [make_annotator(f"asker{index}") for index in range(5)]
    questions = [ask(asker, video, index + 1) for index, asker in enumerate(askers)]
    vote(askers[1], questions[0], None)
    vote(askers[2], questions[0], None)
    late = make_annotator("late")
    assert ask(late, video, 10).status == QuestionStatus.OPEN
    other = make_annotator("later")
    session = watched(other, video)
    refused(errors.VideoFull, lambda: ask(other, video, 11, session=session))


def test_q3_the_number_is_a_setting(annotator, other_annotator, video, settings):
    settings.QUESTIONS_PER_VIDEO = 1
    ask(annotator, video, 1)
    session = watched(other_annotator, video)
    refused(errors.VideoFull, lambda: ask(other_annotator, video, 2, session=session))


def test_an_unknown_template_is_refused():
    with pytest.raises(errors.UnknownTemplate) as refusal:
        selectors.template_get(34)
    assert refusal.value.message == errors.UNKNOWN_TEMPLATE.format(template=34)
    with pytest.raises(errors.UnknownTemplate):
        selectors.template_get("drop table")


@pytest.mark.parametrize(
    ("slot_values", "message"),
    [
        (["cello", "left", "violin"], errors.SLOT_COUNT.format(expected=4, given=3)),
        ([], errors.SLOT_COUNT.format(expected=4, given=0)),
        (
            ["cello", "left", "violin", "right", "extra"],
            errors.SLOT_COUNT.format(expected=4, given=5),
        ),
        (["kazoo", "left", "violin", "right"], None),
        (["cello", "above", "violin", "right"], None),
    ],
    ids=["missing slot", "no slots", "extra slot", "unknown instrument", "unknown position"],
)
def test_slot_values_outside_their_kinds_are_refused(annotator, video, slot_values, message):
    session = watched(annotator, video)
    refusal = refused(
        errors.SlotValuesInvalid, lambda: ask(annotator, video, 29, slot_values, session)
    )
    if message:
        assert refusal.message == message
    else:
        assert "is not a valid" in refusal.message
    session.refresh_from_db()
    assert session.consumed_at is None, "a refused question does not spend the viewing"


def test_only_annotators_ask(outsider, annotator, video):
    session = watched(annotator, video)
    refusal = refused(errors.NotAnAnnotator, lambda: ask(outsider, video, 1, session=session))
    assert refusal.message == errors.NOT_AN_ANNOTATOR


def test_a_deactivated_annotator_cannot_ask(annotator, video):
    session = watched(annotator, video)
    annotator.is_active = False
    annotator.save()
    refused(errors.NotAnAnnotator, lambda: ask(annotator, video, 1, session=session))


def test_a_withdrawn_video_takes_no_questions(annotator, video):
    session = watched(annotator, video)
    video.is_active = False
    video.save()
    refused(errors.VideoInactive, lambda: ask(annotator, video, 1, session=session))


def test_templates_without_slots_take_an_empty_list(annotator, video):
    assert ask(annotator, video, 11, []).text == "Where is the performance?"
