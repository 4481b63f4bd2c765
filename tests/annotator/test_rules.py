"""The pure decisions, without a database."""

from __future__ import annotations

import pytest

from annotator import errors, rules
from annotator.rules import Heartbeat, Limits

LIMITS = Limits()


def beat(position: float = 5.0, **overrides: object) -> Heartbeat:
    fields = {"position": position, "playing": True, "visible": True, "muted": False, "rate": 1.0}
    fields.update(overrides)
    return Heartbeat(**fields)


def credit(
    heartbeat: Heartbeat, previous: float = 0.0, elapsed: float = 5.0, duration: float = 60.0
) -> float:
    return rules.heartbeat_credit(
        heartbeat,
        previous_position=previous,
        elapsed_seconds=elapsed,
        duration_seconds=duration,
        limits=LIMITS,
    )


def shortfall(
    heartbeat: Heartbeat,
    previous: float = 10.0,
    since_heartbeat: float = 5.0,
    since_credited: float | None = None,
    duration: float = 60.0,
) -> str:
    since_credited = since_heartbeat if since_credited is None else since_credited
    earned = credit(heartbeat, previous, min(since_heartbeat, since_credited), duration)
    return rules.heartbeat_shortfall(
        heartbeat,
        credit=earned,
        previous_position=previous,
        since_heartbeat=since_heartbeat,
        since_credited=since_credited,
        duration_seconds=duration,
        limits=LIMITS,
    )


class TestWhyAHeartbeatCountedLess:
    """Each heartbeat's answer says why it credited less than the time that passed."""

    @pytest.mark.parametrize(
        ("heartbeat", "reason"),
        [
            (beat(15.0), ""),
            (beat(15.0, playing=False), "paused"),
            (beat(59.9, playing=False), "ended"),
            (beat(15.0, visible=False), "hidden"),
            (beat(15.0, muted=True), "muted"),
            (beat(15.0, volume=0.0), "volume"),
            (beat(15.0, rate=2.0), "speed"),
            (beat(3.0), "seeked"),
            (beat(12.0), "stalled"),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_the_reason_names_what_the_watcher_did(self, heartbeat, reason):
        assert shortfall(heartbeat, previous=10.0, since_heartbeat=5.0) == reason

    def test_time_counted_on_another_viewing_and_a_long_silence(self):
        assert shortfall(beat(15.0), since_heartbeat=5.0, since_credited=2.0) == "elsewhere"
        assert shortfall(beat(40.0), previous=10.0, since_heartbeat=30.0) == "gap"

    def test_the_start_of_a_viewing_is_not_a_shortfall(self):
        # The page loaded 20 s before the first play: the first heartbeat is not "stalled".
        assert shortfall(beat(0.2), previous=0.0, since_heartbeat=20.0) == ""

    def test_each_reason_is_said_in_words(self):
        assert rules.shortfall_text("", LIMITS) == ""
        assert "replay it from the start" in rules.shortfall_text("ended", LIMITS)
        assert "at most 10 s" in rules.shortfall_text("gap", LIMITS)

    def test_a_volume_of_zero_earns_nothing(self):
        assert credit(beat(5.0, volume=0.0)) == 0.0
        assert beat(5.0, volume=float("nan")).problem() == "volume must be finite"


class TestHeartbeatCredit:
    def test_it_credits_the_time_played(self):
        assert credit(beat(5.0), previous=0.0, elapsed=5.0) == 5.0

    def test_it_never_credits_more_than_the_server_clock_moved(self):
        assert credit(beat(50.0), previous=0.0, elapsed=5.0) == 5.0

    def test_it_never_credits_more_than_the_playhead_moved(self):
        assert credit(beat(2.0), previous=0.0, elapsed=5.0) == 2.0

    def test_it_caps_a_long_gap(self):
        assert credit(beat(60.0), previous=0.0, elapsed=60.0) == LIMITS.heartbeat_max_credit_seconds

    @pytest.mark.parametrize(
        "overrides",
        [{"playing": False}, {"visible": False}, {"muted": True}, {"rate": 2.0}, {"rate": 0.5}],
    )
    def test_it_credits_nothing_unless_playing_visibly_audibly_at_normal_speed(self, overrides):
        assert credit(beat(5.0, **overrides)) == 0.0

    def test_positions_past_the_clips_end_credit_nothing(self):
        """A 60-s clip cannot be played at 100-145 s; the last second may round past 60."""
        assert credit(beat(105.0), previous=100.0, duration=60.0) == 0.0
        assert credit(beat(60.4), previous=58.0, elapsed=5.0, duration=60.0) == 2.0
        assert credit(beat(61.5), previous=58.0, elapsed=5.0, duration=60.0) == 0.0

    def test_it_credits_nothing_when_the_playhead_stands_still_or_goes_back(self):
        assert credit(beat(10.0), previous=10.0) == 0.0
        assert credit(beat(3.0), previous=10.0) == 0.0

    @pytest.mark.parametrize(
        ("overrides", "problem"),
        [
            ({"position": float("nan")}, "position must be finite"),
            ({"position": -1.0}, "position must not be negative"),
            ({"rate": "fast"}, "rate must be a number"),
            ({"playing": "yes"}, "playing must be true or false"),
            ({"position": True}, "position must be a number"),
        ],
    )
    def test_it_names_the_problem_with_a_malformed_heartbeat(self, overrides, problem):
        assert beat(**overrides).problem() == problem


class TestVoteOutcome:
    def test_two_matching_answers_accept(self):
        assert rules.vote_outcome(["yes", "yes"], LIMITS) == rules.Outcome("accepted", "yes")

    def test_the_first_answer_to_reach_two_wins(self):
        outcome = rules.vote_outcome(["yes", "no", "no", "yes"], LIMITS)
        assert outcome == rules.Outcome("accepted", "no")

    def test_two_invalid_flags_invalidate(self):
        assert rules.vote_outcome([None, "yes", None], LIMITS) == rules.Outcome("invalid")

    def test_no_agreement_after_max_votes_is_disputed(self):
        votes = ["one", "two", "three", None, "four"]
        assert rules.vote_outcome(votes, LIMITS) == rules.Outcome("disputed")

    def test_it_stays_open_until_a_threshold(self):
        assert rules.vote_outcome(["yes", "no", None], LIMITS) == rules.Outcome("open")
        assert rules.vote_outcome([], LIMITS) == rules.Outcome("open")

    def test_a_match_on_the_last_allowed_vote_still_accepts(self):
        votes = ["one", "two", "three", "four", "two"]
        assert rules.vote_outcome(votes, LIMITS) == rules.Outcome("accepted", "two")


class TestSlotValues:
    TEXT = "Is the <Object> on the <LR> louder than the <Object> on the <LR>?"

    def test_it_accepts_legal_values(self):
        values = ["cello", "left", "violin", "right"]
        assert rules.check_slot_values(self.TEXT, values) == values

    def test_it_refuses_a_missing_slot(self):
        with pytest.raises(errors.SlotValuesInvalid) as refusal:
            rules.check_slot_values(self.TEXT, ["cello", "left", "violin"])
        assert refusal.value.message == errors.SLOT_COUNT.format(expected=4, given=3)

    def test_it_refuses_a_value_outside_its_kind(self):
        with pytest.raises(errors.SlotValuesInvalid) as refusal:
            rules.check_slot_values(self.TEXT, ["cello", "up", "violin", "right"])
        assert "'up' is not a valid LR" in refusal.value.message

    def test_it_refuses_something_that_is_not_a_list_of_words(self):
        with pytest.raises(errors.SlotValuesInvalid):
            rules.check_slot_values(self.TEXT, "cello left violin right")
        with pytest.raises(errors.SlotValuesInvalid):
            rules.check_slot_values(self.TEXT, ["cello", 1, "violin", "right"])


def test_an_answer_outside_the_kind_is_refused_with_the_choices():
    with pytest.raises(errors.AnswerNotAllowed) as refusal:
        rules.check_answer("cello", ("yes", "no"))
    assert refusal.value.message == errors.ANSWER_NOT_ALLOWED.format(
        answer="cello", choices="yes, no"
    )
