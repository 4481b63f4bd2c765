"""What the collection offers: only what the services would accept."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from annotator import errors, selectors, services
from annotator.rules import Heartbeat
from tests.annotator.helpers import ask, playing, video_make, vote


def paused() -> Heartbeat:
    return Heartbeat(position=1.0, playing=False, visible=True, muted=False, rate=1.0)


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
    videos = {video_make(), video_make()}
    first = selectors.next_video_to_ask(annotator)
    (second,) = videos - {first}
    assert selectors.next_video_to_ask(annotator, exclude=[first.pk]) == second
    assert selectors.next_video_to_ask(annotator, exclude=[first.pk, second.pk]) is None


def test_people_arriving_together_are_spread_over_equal_videos(make_annotator):
    for _ in range(20):
        video_make()
    people = [make_annotator(f"newcomer{n}") for n in range(10)]
    offered = [selectors.next_video_to_ask(person) for person in people]
    assert len(set(offered)) >= 7
    assert offered == [selectors.next_video_to_ask(person) for person in people]  # stable


@pytest.mark.slow
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


def test_a_question_two_people_are_watching_to_answer_is_offered_to_others_after_it(
    make_annotator, annotator, other_annotator, video
):
    first = ask(annotator, video, template_id=1)
    second = ask(annotator, video, template_id=7)
    for name in ("watcher1", "watcher2"):
        services.watch_start(annotator=make_annotator(name), video=video, question=first)
    assert selectors.next_question_to_answer(other_annotator) == second


def test_one_viewing_on_its_way_is_enough_for_a_question_one_vote_from_a_decision(
    make_annotator, annotator, other_annotator, video
):
    first = ask(annotator, video, template_id=1)
    vote(make_annotator("early"), first, "yes")
    services.watch_start(annotator=make_annotator("watcher1"), video=video, question=first)
    assert selectors.next_question_to_answer(other_annotator) is None


def test_a_viewing_left_without_heartbeats_stops_holding_its_question(
    make_annotator, annotator, other_annotator, video
):
    first = ask(annotator, video, template_id=1)
    with time_machine.travel(timezone.now() - timedelta(seconds=21)):
        for name in ("watcher1", "watcher2"):
            services.watch_start(annotator=make_annotator(name), video=video, question=first)
    assert selectors.next_question_to_answer(other_annotator) == first


def test_your_own_viewing_does_not_hide_the_question_from_you(make_annotator, annotator, video):
    first = ask(annotator, video, template_id=1)
    answerer = make_annotator("answerer")
    services.watch_start(annotator=answerer, video=video, question=first)
    services.watch_start(annotator=answerer, video=video, question=first)
    assert selectors.next_question_to_answer(answerer) == first


def test_people_watching_to_ask_count_towards_a_videos_slots(make_annotator, annotator, settings):
    settings.QUESTIONS_PER_VIDEO = 2
    first, second = video_make(), video_make()
    services.watch_start(annotator=make_annotator("watcher1"), video=first)
    assert selectors.next_video_to_ask(annotator) == second  # first has one slot on its way
    services.watch_start(annotator=make_annotator("watcher2"), video=first)
    services.watch_start(annotator=make_annotator("watcher3"), video=second)
    services.watch_start(annotator=make_annotator("watcher4"), video=second)
    assert selectors.next_video_to_ask(annotator) is None


def test_a_viewing_to_answer_must_be_of_the_questions_video(annotator, other_annotator, video):
    question = ask(annotator, video, template_id=1)
    with pytest.raises(errors.WatchSessionWrongVideo):
        services.watch_start(annotator=other_annotator, video=video_make(), question=question)


def test_paused_viewings_hold_nothing_however_often_they_heartbeat(
    make_annotator, annotator, other_annotator, video
):
    """21 viewings held open with paused heartbeats kept work from everyone; now only viewings
    being credited count as work on its way."""
    first = ask(annotator, video, template_id=1)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        idlers = [make_annotator(f"idler{n}") for n in range(2)]
        viewings = [
            services.watch_start(annotator=idler, video=video, question=first) for idler in idlers
        ]
        assert selectors.next_question_to_answer(other_annotator) is None  # fresh: held
        for _ in range(8):  # 24 s of heartbeats, every one paused
            clock.shift(3)
            for idler, viewing in zip(idlers, viewings, strict=True):
                services.watch_heartbeat(annotator=idler, watch_session=viewing, heartbeat=paused())
        assert selectors.next_question_to_answer(other_annotator) == first


def test_one_persons_many_tabs_reserve_what_one_viewing_does(make_annotator, annotator, settings):
    settings.QUESTIONS_PER_VIDEO = 2
    first, second = video_make(), video_make()
    hoarder = make_annotator("hoarder")
    for _ in range(5):
        services.watch_start(annotator=hoarder, video=first)
    # One of the two slots of `first` on its way, not five: it stays behind `second` (none).
    assert selectors.next_video_to_ask(annotator) == second
    assert selectors.next_video_to_ask(annotator, exclude=[second.pk]) == first


def test_a_viewing_reserves_for_a_bounded_time(
    make_annotator, annotator, other_annotator, video, settings
):
    settings.OFFER_LEASE_SECONDS = 20
    first = ask(annotator, video, template_id=1)
    watchers = [make_annotator(name) for name in ("watcher1", "watcher2")]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        viewings = [
            services.watch_start(annotator=w, video=video, question=first) for w in watchers
        ]
        for step in range(1, 6):  # 25 s, credited all along
            clock.shift(5)
            for watcher, viewing in zip(watchers, viewings, strict=True):
                services.watch_heartbeat(
                    annotator=watcher, watch_session=viewing, heartbeat=playing(5.0 * step)
                )
            held = selectors.next_question_to_answer(other_annotator) is None
            assert held == (5 * step <= 20), step  # the lease is over after 20 s


def test_two_people_starting_on_the_last_needed_vote_at_once_get_one_lease(
    make_annotator, annotator, video
):
    question = ask(annotator, video, template_id=1)
    vote(make_annotator("early"), question, "yes")  # one more matching vote decides it
    services.watch_start(annotator=make_annotator("first"), video=video, question=question)
    with pytest.raises(errors.QuestionTaken):
        services.watch_start(annotator=make_annotator("second"), video=video, question=question)
