"""Pure decisions of the collection rules: no database, no clock, no settings lookups inside.

Services and selectors gather the facts, call these, and act on the answer, so each rule's
arithmetic is written once and can be tested without a database.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from annotator import errors
from qa_model import catalogue


@dataclass(frozen=True)
class Limits:
    """The numbers of the collection rules (docs/collection-rules.md); defaults are the paper's."""

    watch_min_seconds: float = 30.0
    heartbeat_max_credit_seconds: float = 10.0
    questions_per_video: int = 5
    accept_votes: int = 2
    invalid_votes: int = 2
    max_votes: int = 5

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        return cls(
            watch_min_seconds=settings.WATCH_MIN_SECONDS,
            heartbeat_max_credit_seconds=settings.HEARTBEAT_MAX_CREDIT_SECONDS,
            questions_per_video=settings.QUESTIONS_PER_VIDEO,
            accept_votes=settings.ACCEPT_VOTES,
            invalid_votes=settings.INVALID_VOTES,
            max_votes=settings.MAX_VOTES,
        )


# Player rates are floats; anything this close to 1.0 is normal speed.
_RATE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Heartbeat:
    """What the player reports every few seconds while a video is open."""

    position: float
    playing: bool
    visible: bool
    muted: bool
    rate: float
    volume: float = 1.0  # 0 is silent like muted (older players do not send it)

    def problem(self) -> str | None:
        """Why this heartbeat cannot be taken at all, or None."""
        for name in ("position", "rate", "volume"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{name} must be a number"
            if not math.isfinite(value):
                return f"{name} must be finite"
        if self.position < 0:
            return "position must not be negative"
        for name in ("playing", "visible", "muted"):
            if not isinstance(getattr(self, name), bool):
                return f"{name} must be true or false"
        return None


# How far past the clip's end a player may report its position (rounding, a last frame).
_POSITION_TOLERANCE_SECONDS = 1.0


def heartbeat_credit(
    heartbeat: Heartbeat,
    *,
    previous_position: float,
    elapsed_seconds: float,
    duration_seconds: float,
    limits: Limits,
) -> float:
    """Seconds of watching one heartbeat earns (rule W1).

    Credit is the smallest of: real time since the previous credit (`elapsed_seconds`: the
    server clock since this viewing's previous heartbeat and since the person's last credited
    moment on any viewing, so parallel tabs share one person's seconds), the distance the
    playhead moved within the clip, and a fixed cap. So nothing the browser sends makes time
    pass faster: a burst of heartbeats shares the real seconds between them, a forged jump of
    the playhead earns no more than the time that passed, a position past the clip's end earns
    nothing, and a long silence earns at most the cap.
    """
    if not heartbeat.playing or not heartbeat.visible or heartbeat.muted or heartbeat.volume <= 0:
        return 0.0
    if abs(heartbeat.rate - 1.0) > _RATE_TOLERANCE:
        return 0.0
    if heartbeat.position > duration_seconds + _POSITION_TOLERANCE_SECONDS:
        return 0.0
    advanced = min(heartbeat.position, duration_seconds) - previous_position
    if advanced <= 0 or elapsed_seconds <= 0:
        return 0.0
    return min(elapsed_seconds, advanced, limits.heartbeat_max_credit_seconds)


# Why a heartbeat credited less than the time that passed, in the watcher's words (W1 refuses
# without explaining; the player shows these next to its bar).
SHORTFALLS = {
    "paused": "Paused: the count goes on when the video plays.",
    "ended": "The clip ended before the minimum: replay it from the start to go on.",
    "hidden": "This tab is hidden: watching counts only while the video is on screen.",
    "muted": "Muted: watching counts only with sound.",
    "volume": "The volume is at 0: turn the sound up to be counted.",
    "speed": "Not at normal speed: only 1× playback is counted.",
    "seeked": "You went back in the video: seconds already counted are not counted twice.",
    "stalled": "The video is loading or stalled: only the seconds it plays are counted.",
    "elsewhere": "Another of your viewings was counted for this time (one person, one count).",
    "gap": "No report came for a while (a sleeping computer, a lost connection): "
    "at most {cap:.0f} s are counted at a time.",
}
# Less credit than time passed by under this is rounding and network jitter, not a shortfall.
_SHORTFALL_SLACK_SECONDS = 1.0


def heartbeat_shortfall(
    heartbeat: Heartbeat,
    *,
    credit: float,
    previous_position: float,
    since_heartbeat: float,
    since_credited: float,
    duration_seconds: float,
    limits: Limits,
) -> str:
    """Why `credit` (heartbeat_credit's answer) is less than the time since this viewing's
    previous heartbeat: a key of SHORTFALLS, or "" when it is not (or the viewing just began).
    `since_credited` is the time since the person was last credited on any viewing."""
    at_end = heartbeat.position >= duration_seconds - _POSITION_TOLERANCE_SECONDS
    if not heartbeat.playing:
        return "ended" if at_end else "paused"
    if not heartbeat.visible:
        return "hidden"
    if heartbeat.muted:
        return "muted"
    if heartbeat.volume <= 0:
        return "volume"
    if abs(heartbeat.rate - 1.0) > _RATE_TOLERANCE:
        return "speed"
    if heartbeat.position > duration_seconds + _POSITION_TOLERANCE_SECONDS:
        return "ended"
    if credit >= since_heartbeat - _SHORTFALL_SLACK_SECONDS:
        return ""
    if heartbeat.position < previous_position - _POSITION_TOLERANCE_SECONDS:
        return "seeked"
    slack = _SHORTFALL_SLACK_SECONDS
    if since_credited < since_heartbeat - slack and credit >= since_credited - slack:
        return "elsewhere"  # the time was credited to another of the person's viewings
    if credit >= limits.heartbeat_max_credit_seconds - 1e-9:
        return "gap"
    if previous_position <= 0 and heartbeat.position < _POSITION_TOLERANCE_SECONDS:
        return ""  # the first seconds of a viewing: the page loaded before it played
    return "stalled"


def shortfall_text(reason: str, limits: Limits) -> str:
    return SHORTFALLS[reason].format(cap=limits.heartbeat_max_credit_seconds) if reason else ""


def check_slot_values(template_text: str, slot_values: object) -> list[str]:
    """The slot values for a template, checked against their kinds; raise if any is wrong."""
    slots = catalogue.template_slots(template_text)
    if not isinstance(slot_values, list | tuple) or not all(
        isinstance(value, str) for value in slot_values
    ):
        raise errors.SlotValuesInvalid(
            errors.SLOT_COUNT.format(expected=len(slots), given="no list of words")
        )
    if len(slot_values) != len(slots):
        raise errors.SlotValuesInvalid(
            errors.SLOT_COUNT.format(expected=len(slots), given=len(slot_values))
        )
    for slot, value in zip(slots, slot_values, strict=True):
        legal = catalogue.SLOT_VALUES[slot]
        if value not in legal:
            raise errors.SlotValuesInvalid(
                errors.SLOT_VALUE.format(value=value, slot=slot, choices=", ".join(legal))
            )
    return list(slot_values)


@dataclass(frozen=True)
class Outcome:
    """Where a question stands after its counted votes: a status and, if accepted, the answer."""

    status: str
    answer: str | None = None


def vote_outcome(votes: Iterable[str | None], limits: Limits) -> Outcome:
    """Replay counted votes in the order they were cast (None is an "invalid question" vote).

    The first answer to reach `accept_votes` is accepted (A3) and two invalid flags invalidate
    (A5), whichever threshold is crossed first; after `max_votes` with neither, the question is
    disputed (A6). Replaying in order, rather than reading a final tally, keeps "first to reach"
    true when a reviewer later discounts some votes and the rest are re-evaluated.
    """
    tally: Counter[str | None] = Counter()
    for count, vote in enumerate(votes, start=1):
        tally[vote] += 1
        if vote is None and tally[vote] >= limits.invalid_votes:
            return Outcome("invalid")
        if vote is not None and tally[vote] >= limits.accept_votes:
            return Outcome("accepted", vote)
        if count >= limits.max_votes:
            return Outcome("disputed")
    return Outcome("open")


def check_answer(answer: str, allowed: Sequence[str]) -> str:
    """An answer of the template's kind (A1), or a refusal naming the choices."""
    if answer not in allowed:
        raise errors.AnswerNotAllowed(
            errors.ANSWER_NOT_ALLOWED.format(answer=answer, choices=", ".join(allowed))
        )
    return answer
