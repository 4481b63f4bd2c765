"""Every collection rule checked after the fact, against what the database holds.

The services enforce the rules as work arrives, under row locks and constraints; this module
re-checks them over all rows at once, so that a load test (bench/crowd.py) or an admin
(`manage.py audit_rules`) can show that nothing slipped through under concurrency. Each check
returns a list of findings, each naming the rows at fault.

Questions whose status a person set (a reviewer's decision, a dataset import) are not replayed
against their votes: their status is a decision, not an outcome of the crowd rules.

Beside the rules, the counts stored next to the rows they count (counts.py: live questions per
video, counted votes per question) are compared with a recount: offering work relies on them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count

from annotator import counts
from annotator.models import (
    LIVE_STATUSES,
    Question,
    QuestionStatus,
    StatusChange,
    Vote,
    WatchSession,
)
from annotator.rules import Limits, vote_outcome

# Credited seconds are sums of floats; a hair under the bar is rounding, not a skipped second.
_EPSILON = 1e-6
RULES = ("W1", "Q1", "Q2", "Q3", "A1", "A2", "A3", "A4", "A5", "A6")
COUNTS = "stored counts"


@dataclass
class Audit:
    """Findings per rule, and how many rows were looked at."""

    findings: dict[str, list[str]] = field(
        default_factory=lambda: {rule: [] for rule in (*RULES, COUNTS)}
    )
    questions: int = 0
    votes: int = 0

    @property
    def violations(self) -> int:
        return sum(len(found) for found in self.findings.values())

    def report(self) -> str:
        lines = [f"{self.questions} questions and {self.votes} votes checked"]
        for rule, found in self.findings.items():
            lines.append(f"  {rule}: {len(found)} violation(s)")
            lines.extend(f"      {finding}" for finding in found[:10])
        return "\n".join(lines)


def rules_audit(limits: Limits | None = None) -> Audit:
    """Check W1, Q1–Q3 and A1–A6 over every question and vote, and the stored counts."""
    limits = limits or Limits.from_settings()
    audit = Audit(questions=Question.objects.count(), votes=Vote.objects.count())
    _watch_first(audit, limits)
    _questions(audit, limits)
    _votes(audit, limits)
    audit.findings[COUNTS] = counts.drift()
    return audit


def _viewing_problem(
    session: WatchSession | None, annotator_id: int, video_id: int, limits: Limits
) -> str | None:
    if session is None:
        return "no viewing"
    if session.annotator_id != annotator_id or session.video_id != video_id:
        return f"viewing {session.pk} belongs to another person or video"
    if session.credited_seconds + _EPSILON < limits.watch_min_seconds:
        return f"viewing {session.pk} credited {session.credited_seconds:.1f} s only"
    if session.consumed_at is None:
        return f"viewing {session.pk} not marked used"
    return None


def _decided_by_people() -> set[int]:
    causes = (StatusChange.Cause.REVIEW, StatusChange.Cause.IMPORT)
    return set(StatusChange.objects.filter(cause__in=causes).values_list("question_id", flat=True))


def _watch_first(audit: Audit, limits: Limits) -> None:
    """W1: each question and vote was unlocked by its own, used, long-enough viewing."""
    imported = set(
        StatusChange.objects.filter(cause=StatusChange.Cause.IMPORT).values_list(
            "question_id", flat=True
        )
    )
    for question in Question.objects.select_related("watch_session").iterator():
        if question.pk in imported:
            continue
        problem = _viewing_problem(
            question.watch_session, question.author_id, question.video_id, limits
        )
        if problem:
            audit.findings["W1"].append(f"question {question.pk}: {problem}")
    votes = Vote.objects.select_related("watch_session", "question").exclude(
        question_id__in=imported, watch_session__isnull=True
    )
    for vote in votes.iterator():
        problem = _viewing_problem(
            vote.watch_session, vote.annotator_id, vote.question.video_id, limits
        )
        if problem:
            audit.findings["W1"].append(f"vote {vote.pk}: {problem}")


def _questions(audit: Audit, limits: Limits) -> None:
    """Q1: a template once per author and video; Q2: one live question per template and video;
    Q3: at most `questions_per_video` live questions per video."""
    # Records imported from a published dataset were not collected here: Q1 does not apply to
    # them, and a rule the release breaks is flagged on the record (origin_exemptions).
    repeated = (
        Question.objects.filter(origin_release="")
        .values("video_id", "template_id", "author_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in repeated:
        audit.findings["Q1"].append(
            f"author {row['author_id']} used template {row['template_id']} "
            f"{row['n']} times on video {row['video_id']}"
        )
    live = Question.objects.filter(status__in=LIVE_STATUSES)
    held = live.exclude(origin_exemptions__contains="Q2")
    for row in held.values("video_id", "template_id").annotate(n=Count("id")).filter(n__gt=1):
        audit.findings["Q2"].append(
            f"video {row['video_id']} has {row['n']} live questions on template "
            f"{row['template_id']}"
        )
    crowded = (
        live.exclude(origin_exemptions__contains="Q3")
        .values("video_id")
        .annotate(n=Count("id"))
        .filter(n__gt=limits.questions_per_video)
    )
    for row in crowded:
        audit.findings["Q3"].append(f"video {row['video_id']} has {row['n']} live questions")


def _votes(audit: Audit, limits: Limits) -> None:
    """A1: answers of the template's kind; A2: one vote per person, none by the author;
    A3–A6: each question's status is what its counted votes, replayed in order, give, and no
    vote counts after the vote that decided it."""
    by_question: dict[int, list[Vote]] = defaultdict(list)
    votes = Vote.objects.select_related("answer", "question__template").order_by("id")
    for vote in votes.iterator():
        question = vote.question
        if vote.invalid != (vote.answer_id is None):
            audit.findings["A1"].append(f"vote {vote.pk}: both or neither answer and invalid flag")
        elif vote.answer_id and vote.answer.text not in question.template.answers:
            audit.findings["A1"].append(
                f"vote {vote.pk}: {vote.answer.text!r} is not a {question.template.answer_kind}"
            )
        if vote.annotator_id == question.author_id:
            audit.findings["A2"].append(f"vote {vote.pk}: the author voted on {question.pk}")
        by_question[question.pk].append(vote)
    for question_id, cast in by_question.items():
        people = [vote.annotator_id for vote in cast]
        if len(people) != len(set(people)):
            audit.findings["A2"].append(f"question {question_id}: someone voted twice")
    decided_by_people = _decided_by_people()
    for question in Question.objects.select_related("accepted_answer").iterator():
        if question.pk in decided_by_people:
            continue
        counted = [
            vote
            for vote in by_question.get(question.pk, [])
            if vote.discounted_at is None and not vote.gold_check
        ]
        _replay(audit, question, counted, limits)


def _replay(audit: Audit, question: Question, counted: list[Vote], limits: Limits) -> None:
    answers = [None if vote.invalid else vote.answer.text for vote in counted]
    outcome = vote_outcome(answers, limits)
    # The vote that decided the question: the first prefix whose replay is no longer open.
    decisive = next(
        (
            n
            for n in range(1, len(answers) + 1)
            if vote_outcome(answers[:n], limits).status != "open"
        ),
        None,
    )
    stored = question.status
    accepted = question.accepted_answer.text if question.accepted_answer_id else None
    rule = {"accepted": "A3", "invalid": "A5", "disputed": "A6"}.get(outcome.status)
    if stored != outcome.status or accepted != outcome.answer:
        rule = rule or {
            QuestionStatus.ACCEPTED: "A3",
            QuestionStatus.INVALID: "A5",
            QuestionStatus.DISPUTED: "A6",
        }.get(stored, "A3")
        audit.findings[rule].append(
            f"question {question.pk} is {stored} ({accepted}) but its votes {answers} give "
            f"{outcome.status} ({outcome.answer})"
        )
    if decisive is not None and decisive < len(answers):
        audit.findings["A4"].append(
            f"question {question.pk}: {len(answers) - decisive} vote(s) counted after it was "
            f"{outcome.status}"
        )
