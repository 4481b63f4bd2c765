"""W1: watch first. Heartbeats credit time on the server clock; a viewing unlocks one submission."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from annotator import errors, services
from annotator.rules import Heartbeat
from tests.annotator.helpers import ask, snapshot, video_make, watched

pytestmark = pytest.mark.django_db


def heartbeat(annotator, session, position, **overrides):
    fields = {"position": position, "playing": True, "visible": True, "muted": False, "rate": 1.0}
    fields.update(overrides)
    return services.watch_heartbeat(
        annotator=annotator, watch_session=session, heartbeat=Heartbeat(**fields)
    )


def test_29_9_seconds_is_refused_with_the_time_counted(annotator, video):
    session = watched(annotator, video, seconds=29.9)
    before = snapshot()
    with pytest.raises(errors.WatchTooShort) as refusal:
        ask(annotator, video, session=session)
    assert refusal.value.message == errors.WATCH_TOO_SHORT.format(required=30, credited=29.9)
    assert snapshot() == before


def test_30_seconds_unlocks_a_question(annotator, video):
    session = watched(annotator, video, seconds=30.0)
    question = ask(annotator, video, session=session)
    session.refresh_from_db()
    assert question.watch_session == session
    assert session.consumed_at is not None


@pytest.mark.slow
def test_a_burst_of_100_heartbeats_in_one_second_credits_about_one_second(annotator, video):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        for index in range(100):
            clock.shift(0.01)
            # A script claiming the playhead jumped 0.5 s each time (50x speed, within the clip).
            session = heartbeat(annotator, session, position=0.5 * (index + 1))
    assert session.heartbeats == 100
    assert session.credited_seconds == pytest.approx(1.0, abs=1e-6)


def test_credit_follows_the_server_clock_not_the_reported_position(annotator, video):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        clock.shift(5)
        session = heartbeat(annotator, session, position=55.0)  # forged jump
    assert session.credited_seconds == pytest.approx(5.0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"playing": False},
        {"visible": False},
        {"muted": True},
        {"rate": 2.0},
    ],
    ids=["paused", "hidden tab", "muted", "double speed"],
)
def test_heartbeats_that_do_not_prove_watching_credit_nothing(annotator, video, overrides):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        for second in range(5, 60, 5):
            clock.shift(5)
            session = heartbeat(annotator, session, position=float(second), **overrides)
    assert session.credited_seconds == 0.0


def test_a_playhead_that_does_not_advance_credits_nothing(annotator, video):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        clock.shift(5)
        session = heartbeat(annotator, session, position=5.0)
        for _ in range(10):
            clock.shift(5)
            session = heartbeat(annotator, session, position=5.0)  # a frozen player
    assert session.credited_seconds == pytest.approx(5.0)


def test_pausing_stops_the_credit_and_resuming_does_not_count_the_pause(annotator, video):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        clock.shift(5)
        session = heartbeat(annotator, session, position=5.0)
        clock.shift(60)  # paused for a minute: the player sends no heartbeat
        session = heartbeat(annotator, session, position=5.0, playing=False)
        clock.shift(5)
        session = heartbeat(annotator, session, position=10.0)
    assert session.credited_seconds == pytest.approx(10.0)


def test_a_long_silence_credits_at_most_the_cap(annotator, video, settings):
    session = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(session.started_at, tick=False) as clock:
        clock.shift(45)
        session = heartbeat(annotator, session, position=45.0)
    assert session.credited_seconds == settings.HEARTBEAT_MAX_CREDIT_SECONDS


def test_a_used_viewing_cannot_be_replayed(annotator, video):
    session = watched(annotator, video)
    ask(annotator, video, 1, session=session)
    before = snapshot()
    with pytest.raises(errors.WatchSessionConsumed) as refusal:
        ask(annotator, video, 2, session=session)
    assert refusal.value.message == errors.WATCH_SESSION_CONSUMED
    with pytest.raises(errors.WatchSessionConsumed):
        heartbeat(annotator, session, position=40.0)
    assert snapshot() == before


def test_someone_elses_viewing_is_refused_as_if_it_did_not_exist(annotator, other_annotator, video):
    session = watched(other_annotator, video)
    before = snapshot()
    with pytest.raises(errors.WatchSessionNotFound):
        heartbeat(annotator, session, position=5.0)
    with pytest.raises(errors.WatchSessionNotFound) as refusal:
        ask(annotator, video, session=session)
    assert refusal.value.message == errors.WATCH_SESSION_NOT_FOUND
    assert snapshot() == before


def test_a_viewing_of_another_video_is_refused(annotator, video):
    other_video = video_make()
    session = watched(annotator, other_video)
    before = snapshot()
    with pytest.raises(errors.WatchSessionWrongVideo):
        ask(annotator, video, session=session)
    assert snapshot() == before


def test_a_malformed_heartbeat_is_refused_and_changes_nothing(annotator, video):
    session = services.watch_start(annotator=annotator, video=video)
    before = snapshot()
    with pytest.raises(errors.HeartbeatInvalid) as refusal:
        heartbeat(annotator, session, position=float("inf"))
    assert refusal.value.message == errors.HEARTBEAT_INVALID.format(
        problem="position must be finite"
    )
    assert snapshot() == before


def test_only_annotators_watch(outsider, video):
    with pytest.raises(errors.NotAnAnnotator):
        services.watch_start(annotator=outsider, video=video)


def test_an_inactive_video_cannot_be_watched(annotator):
    with pytest.raises(errors.VideoInactive):
        services.watch_start(annotator=annotator, video=video_make(is_active=False))


def test_the_watch_minimum_is_a_setting(annotator, video, settings):
    settings.WATCH_MIN_SECONDS = 10
    ask(annotator, video, session=watched(annotator, video, seconds=10))


def test_prune_deletes_old_unused_viewings_only(annotator, video):
    used = watched(annotator, video)
    ask_question = ask(annotator, video, session=used)
    fresh = services.watch_start(annotator=annotator, video=video)
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        stale = services.watch_start(annotator=annotator, video=video)
    assert services.watch_sessions_prune() == 1
    remaining = set(annotator.watch_sessions.values_list("pk", flat=True))
    assert remaining == {used.pk, fresh.pk}
    assert stale.pk not in remaining
    assert ask_question.watch_session_id == used.pk


def test_a_second_viewing_unlocks_a_second_submission(annotator, video):
    ask(annotator, video, template_id=1)
    ask(annotator, video, template_id=2)
    assert annotator.questions.count() == 2


def test_two_tabs_share_one_persons_seconds(annotator, catalogue):
    """Two viewings playing at once, heartbeats alternating: 30 s of real time credit 30 s in
    all, not 30 s each (W1 is about a person watching)."""
    first, second = video_make(), video_make()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tabs = [services.watch_start(annotator=annotator, video=v) for v in (first, second)]
        for step in range(1, 21):  # a heartbeat every 1.5 s, the tabs taking turns
            clock.shift(1.5)
            index = step % 2
            tabs[index] = heartbeat(annotator, tabs[index], position=1.5 * step)
    total = sum(tab.credited_seconds for tab in tabs)
    assert total == pytest.approx(30.0)
    assert max(tab.credited_seconds for tab in tabs) < 30.0


def test_a_paused_tab_does_not_take_the_playing_ones_time(annotator, catalogue):
    playing_video, paused_video = video_make(), video_make()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        playing_tab = services.watch_start(annotator=annotator, video=playing_video)
        paused_tab = services.watch_start(annotator=annotator, video=paused_video)
        for step in range(1, 11):
            clock.shift(3.0)
            paused_tab = heartbeat(annotator, paused_tab, position=1.0, playing=False)
            playing_tab = heartbeat(annotator, playing_tab, position=3.0 * step)
    assert playing_tab.credited_seconds == pytest.approx(30.0)
    assert paused_tab.credited_seconds == 0.0
