"""What the collection offers: only what the services would accept."""

from __future__ import annotations

import pytest

from annotator import selectors
from tests.annotator.helpers import ask, video_make, vote

pytestmark = pytest.mark.django_db


def open_template_ids(annotator, video):
    return set(selectors.templates_open_for(annotator, video).values_list("pk", flat=True))


def test_all_33_templates_are_open_on_a_fresh_video(annotator, video):
    assert open_template_ids(annotator, video) == set(range(1, 34))


def test_used_templates_are_hidden_from_everyone(annotator, other_annotator, video):
    ask(annotator, video, template_id=5)
    assert 5 not in open_template_ids(annotator, video)
    assert 5 not in open_template_ids(other_annotator, video)


def test_an_invalidated_template_reopens_for_others_but_not_its_author(
    annotator, other_annotator, third_annotator, video
):
    question = ask(annotator, video, template_id=5)
    vote(other_annotator, question, None)
    vote(third_annotator, question, None)
    assert 5 not in open_template_ids(annotator, video)
    assert 5 in open_template_ids(other_annotator, video)


def test_nothing_is_open_on_a_full_or_withdrawn_video(make_annotator, annotator, video):
    for index in range(5):
        ask(make_annotator(f"asker{index}"), video, template_id=index + 1)
    assert open_template_ids(annotator, video) == set()
    withdrawn = video_make(is_active=False)
    assert open_template_ids(annotator, withdrawn) == set()


def test_nothing_is_offered_to_non_annotators(outsider, video):
    assert open_template_ids(outsider, video) == set()
    assert selectors.next_video_to_ask(outsider) is None
    assert selectors.next_question_to_answer(outsider) is None


def test_next_video_prefers_the_least_asked_and_skips_full_ones(make_annotator, annotator):
    busy, quiet = video_make(), video_make()
    ask(make_annotator("asker"), busy, template_id=1)
    assert selectors.next_video_to_ask(annotator) == quiet
    for index in range(2, 6):
        ask(make_annotator(f"asker{index}"), busy, template_id=index)
    for index in range(5):
        ask(make_annotator(f"other{index}"), quiet, template_id=index + 1)
    assert selectors.next_video_to_ask(annotator) is None


def test_next_video_honours_skips(annotator):
    first, second = video_make(), video_make()
    assert selectors.next_video_to_ask(annotator) == first
    assert selectors.next_video_to_ask(annotator, exclude=[first.pk]) == second
    assert selectors.next_video_to_ask(annotator, exclude=[first.pk, second.pk]) is None


def test_a_video_where_every_template_is_closed_to_you_is_not_offered(annotator, video, settings):
    settings.QUESTIONS_PER_VIDEO = 40
    for template_id in range(1, 34):
        ask(annotator, video, template_id=template_id)
    assert selectors.next_video_to_ask(annotator) is None


def test_next_question_skips_own_voted_and_decided_ones(
    annotator, other_annotator, third_annotator, video
):
    own = ask(annotator, video, template_id=1)
    assert selectors.next_question_to_answer(annotator) is None
    assert selectors.next_question_to_answer(other_annotator) == own
    vote(other_annotator, own, "yes")
    assert selectors.next_question_to_answer(other_annotator) is None
    vote(third_annotator, own, "yes")  # accepted now
    assert selectors.next_question_to_answer(third_annotator) is None


def test_next_question_prefers_the_one_closest_to_a_decision(
    make_annotator, annotator, other_annotator, video
):
    older = ask(annotator, video, template_id=1)
    newer = ask(annotator, video, template_id=7)
    vote(make_annotator("early"), newer, "yes")
    assert selectors.next_question_to_answer(other_annotator) == newer
    assert selectors.next_question_to_answer(other_annotator, exclude=[newer.pk]) == older
