"""Helpers that drive the services the way a person does: watch, then submit."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import time_machine
from django.db.models import Model
from django.utils import timezone

from annotator import services
from annotator.models import (
    Question,
    QuestionTemplate,
    StatusChange,
    Video,
    Vote,
    WatchClock,
    WatchSession,
)
from annotator.rules import Heartbeat
from qa_model import catalogue

_video_numbers = itertools.count(1)


def video_make(**fields: object) -> Video:
    number = next(_video_numbers)
    values = {"avqa_id": f"v{number:07d}", "file": f"videos/v{number}.mp4", "duration_seconds": 60}
    values.update(fields)
    return Video.objects.create(**values)


def playing(position: float) -> Heartbeat:
    return Heartbeat(position=position, playing=True, visible=True, muted=False, rate=1.0)


def watched(
    annotator: object, video: Video, seconds: float = 30.0, clock: object = None
) -> WatchSession:
    """A viewing credited with `seconds`, earned by heartbeats on a frozen, advancing clock.

    With `clock` (a running time-machine traveller) the viewing moves that clock forward;
    without, it happens on a clock of its own, from the real present.
    """
    # One person's viewings happen one after another (W1 credits a person's real time once):
    # start after the last moment this person was credited.
    credited_until = (
        WatchClock.objects.filter(annotator_id=annotator.pk)
        .values_list("credited_until", flat=True)
        .first()
    )
    if clock is None:
        start = max(timezone.now(), credited_until or timezone.now())
        with time_machine.travel(start, tick=False) as own_clock:
            return watched(annotator, video, seconds, own_clock)
    if credited_until and credited_until > timezone.now():
        clock.move_to(credited_until)
    session = services.watch_start(annotator=annotator, video=video)
    position = 0.0
    replays = 0
    while session.credited_seconds < seconds:
        if position >= video.duration_seconds:
            # A clip shorter than the minimum is played again from the start: positions past
            # its end earn nothing.
            replays += 1
            assert replays <= seconds, "the viewing earns no credit"
            position = 0.0
            clock.shift(0.5)
            session = services.watch_heartbeat(
                annotator=annotator, watch_session=session, heartbeat=playing(position)
            )
        step = min(10.0, seconds - session.credited_seconds, video.duration_seconds - position)
        clock.shift(step)
        position += step
        session = services.watch_heartbeat(
            annotator=annotator, watch_session=session, heartbeat=playing(position)
        )
    return session


def legal_slots(template: QuestionTemplate, offset: int = 0) -> list[str]:
    """The first legal value of each slot (shifted by `offset` for variety)."""
    values = []
    for index, slot in enumerate(template.slots):
        choices = catalogue.SLOT_VALUES[slot]
        values.append(choices[(offset + index) % len(choices)])
    return values


def ask(
    annotator: object,
    video: Video,
    template_id: int = 1,
    slot_values: list[str] | None = None,
    session: WatchSession | None = None,
) -> Question:
    """Ask a question (legal slot values unless given), after a fresh viewing unless given."""
    template = QuestionTemplate.objects.get(pk=template_id)
    return services.question_create(
        annotator=annotator,
        video=video,
        template=template,
        slot_values=legal_slots(template) if slot_values is None else slot_values,
        watch_session=session or watched(annotator, video),
    )


def vote(annotator: object, question: Question, answer: str | None) -> Vote:
    """Cast a vote after watching; `None` flags the question invalid."""
    return services.vote_cast(
        annotator=annotator,
        question=question,
        watch_session=watched(annotator, question.video),
        answer=answer,
        invalid=answer is None,
    )


def refused(error_class: type[Exception], call: Callable[[], object]) -> Exception:
    """Run a call that must be refused with `error_class`; check it changed nothing."""
    before = snapshot()
    with pytest.raises(error_class) as refusal:
        call()
    assert snapshot() == before
    return refusal.value


def snapshot() -> dict[str, list[tuple]]:
    """Every row the collection writes, to show a refusal changed nothing."""
    models: list[type[Model]] = [Video, Question, Vote, WatchSession, StatusChange]
    return {
        model.__name__: [tuple(row.values()) for row in model.objects.order_by("pk").values()]
        for model in models
    }
