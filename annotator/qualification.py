"""The qualification round: before an annotator's answers count, they answer a few gold
questions (accepted questions whose answer is known), as crowd platforms qualify their workers.

While qualifying, the Answer page offers them gold questions only, and the vote service refuses
their votes on other questions; their gold answers are gold checks and never change a question.
Passed or failed is decided by their first QUALIFICATION_QUESTIONS gold checks against
QUALIFICATION_PASS. A collection without enough gold questions open to them cannot test them
yet: the round is waived until it can (their answers count meanwhile).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from annotator.models import Vote

OFF, WAIVED, QUALIFYING, PASSED, FAILED = "off", "waived", "qualifying", "passed", "failed"


@dataclass(frozen=True)
class Qualification:
    state: str
    correct: int = 0
    done: int = 0
    required: int = 0

    @property
    def counts_votes(self) -> bool:
        """Whether the annotator's answers to ordinary questions count."""
        return self.state in (OFF, WAIVED, PASSED)

    @property
    def pass_mark(self) -> int:
        """Correct answers needed among the `required`."""
        return math.ceil(settings.QUALIFICATION_PASS * self.required - 1e-9)


def _standing(correct: int, done: int, required: int, gold_left: int | None) -> Qualification:
    if required <= 0:
        return Qualification(OFF)
    if done >= required:
        mark = Qualification(PASSED, correct, done, required).pass_mark
        return Qualification(PASSED if correct >= mark else FAILED, correct, done, required)
    if gold_left is not None and gold_left < required - done:
        return Qualification(WAIVED, correct, done, required)
    return Qualification(QUALIFYING, correct, done, required)


def _first_checks(annotator_ids: Iterable[int], required: int) -> dict[int, tuple[int, int]]:
    """annotator id -> (correct, done) over their first `required` gold checks."""
    rows = (
        Vote.objects.filter(annotator__in=list(annotator_ids), gold_check=True)
        .order_by("annotator", "created_at", "pk")
        .values_list("annotator", "answer_id", "question__accepted_answer_id")
    )
    checks: dict[int, tuple[int, int]] = {}
    for annotator_id, answer_id, accepted_id in rows:
        correct, done = checks.get(annotator_id, (0, 0))
        if done < required:
            checks[annotator_id] = (correct + int(answer_id == accepted_id), done + 1)
    return checks


def qualification_of(annotator: object) -> Qualification:
    """Where this annotator stands (a few small queries)."""
    from annotator.selectors import gold_open_to

    required = settings.QUALIFICATION_QUESTIONS
    if required <= 0:
        return Qualification(OFF)
    first = list(
        Vote.objects.filter(annotator=annotator, gold_check=True)
        .order_by("created_at", "pk")
        .values_list("answer_id", "question__accepted_answer_id")[:required]
    )
    correct, done = sum(answer == accepted for answer, accepted in first), len(first)
    gold_left = None
    if done < required:
        gold_left = gold_open_to(annotator)[: required - done].count()
    return _standing(correct, done, required, gold_left)


def qualifications_of(annotators: Iterable[object]) -> dict[int, Qualification]:
    """The finished rounds of these annotators (a page of the admin's list) in one query; an
    unfinished round shows as qualifying (whether it is waived depends on the gold open to each,
    which the admin's list does not read)."""
    annotators = list(annotators)
    required = settings.QUALIFICATION_QUESTIONS
    checks = _first_checks((a.pk for a in annotators), required) if required > 0 else {}
    return {
        annotator.pk: _standing(*checks.get(annotator.pk, (0, 0)), required, None)
        for annotator in annotators
    }
