"""Counts kept beside the rows they count, and their recount.

Offering work needs two numbers that other rows determine: a video's live questions (rules Q2,
Q3) and a question's counted votes (A3–A6, and the order in which open questions are offered).
Counting them for every candidate on every offer costs as much as the collection is large, so
they are stored: the services refresh them in the transaction that changes what they count,
under the row lock of that video or question, by recounting its few rows (a recount, not an
increment, so a refresh can never drift). `drift` compares every stored count with a recount
(`manage.py audit_rules`, the tests), and `repair` rewrites the ones that differ, for a database
changed outside the services (a row deleted by hand).
"""

from __future__ import annotations

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from annotator.models import Question, Video, Vote


def count_per_row(rows: QuerySet, outer: str, *, distinct: str = "pk"):
    """A subquery: how many of `rows` (how many distinct values of their `distinct` field) have
    the outer row as their `outer`; 0 when none have. Evaluated per outer row, on that row's
    own few rows, where a join and a GROUP BY would count every row of both tables."""
    per_row = rows.filter(**{outer: OuterRef("pk")}).order_by().values(outer)
    counted = per_row.annotate(n=Count(distinct, distinct=distinct != "pk")).values("n")
    return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())


def _live_questions():
    return count_per_row(Question.objects.live(), "video")


def _counted_votes():
    return count_per_row(Vote.objects.counted(), "question")


def video_live_refresh(video_id: int) -> None:
    """Recount a video's live questions; call under its row lock, after the change."""
    Video.objects.filter(pk=video_id).update(live_questions=_live_questions())


def question_votes_refresh(question_id: int) -> None:
    """Recount a question's counted votes; call under its row lock, after the change."""
    Question.objects.filter(pk=question_id).update(counted_votes=_counted_votes())


def _differing() -> dict[str, QuerySet]:
    return {
        "live questions": Video.objects.annotate(recount=_live_questions())
        .exclude(live_questions=F("recount"))
        .values_list("pk", "live_questions", "recount"),
        "counted votes": Question.objects.annotate(recount=_counted_votes())
        .exclude(counted_votes=F("recount"))
        .values_list("pk", "counted_votes", "recount"),
    }


def drift() -> list[str]:
    """Every stored count that differs from a recount of its rows, as findings."""
    findings = []
    for name, rows in _differing().items():
        owner = "video" if name == "live questions" else "question"
        findings += [
            f"{owner} {pk}: {name} stored as {stored}, recounted {recount}"
            for pk, stored, recount in rows.order_by("pk")
        ]
    return findings


def repair() -> int:
    """Rewrite every stored count that differs from a recount; return how many. Call inside a
    transaction: the rows are locked first (videos, then questions, the services' order), so a
    submission arriving meanwhile is counted either before the repair or after it."""
    videos = list(_differing()["live questions"].values_list("pk", flat=True))
    questions = list(_differing()["counted votes"].values_list("pk", flat=True))
    list(Video.objects.select_for_update(no_key=True).filter(pk__in=videos).order_by("pk"))
    list(Question.objects.select_for_update(no_key=True).filter(pk__in=questions).order_by("pk"))
    Video.objects.filter(pk__in=videos).update(live_questions=_live_questions())
    Question.objects.filter(pk__in=questions).update(counted_votes=_counted_votes())
    return len(videos) + len(questions)
