"""Reads for staff statistics: each annotator's quality (the admin's list of annotators) and
the dashboard's totals, coverage and throughput."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from annotator.aggregates import Median
from annotator.counts import count_per_row
from annotator.models import Question, QuestionStatus, QuestionTemplate, Vote, WatchSession
from annotator.selectors.offers import gold_bar_below
from qa_model import catalogue

# --- annotator quality -----------------------------------------------------------------------


def annotators_with_counts(queryset: QuerySet) -> QuerySet:
    """Annotators with the counts their list sorts by: questions asked and votes that count
    (not discounted). Each is a subquery on that person's own rows (no join of everyone's
    questions with everyone's votes)."""
    return queryset.annotate(
        asked=count_per_row(Question.objects.all(), "author"),
        vote_count=count_per_row(Vote.objects.filter(discounted_at__isnull=True), "annotator"),
    )


@dataclass(frozen=True)
class AnnotatorStatistics:
    """One annotator's work as staff judge it. Votes count unless discounted; agreement is with
    the accepted answer of the questions they voted on, once those were accepted."""

    asked: int = 0
    votes: int = 0
    invalid_flags: int = 0
    on_accepted: int = 0
    agreed: int = 0
    gold_checks: int = 0
    gold_correct: int = 0
    votes_cast: int = 0  # every vote, discounted or not: the pace
    first_vote: datetime | None = None
    last_vote: datetime | None = None
    median_watch_seconds: float | None = None  # of the viewings that unlocked a submission

    @property
    def votes_per_hour(self) -> float | None:
        """Votes over the span from the first to the last one (at least one minute)."""
        if not self.votes_cast:
            return None
        hours = max((self.last_vote - self.first_vote).total_seconds(), 60.0) / 3600
        return self.votes_cast / hours

    @property
    def below_gold_bar(self) -> bool:
        return gold_bar_below(self.gold_correct, self.gold_checks)


def annotator_statistics(annotators: Iterable[object]) -> dict[int, AnnotatorStatistics]:
    """Statistics of these annotators (a page of the admin's list), in three queries however
    many there are: one over their votes, one over their questions, one over their viewings."""
    ids = [annotator.pk for annotator in annotators]
    counted = Q(discounted_at__isnull=True)
    on_accepted = counted & Q(question__status=QuestionStatus.ACCEPTED)
    agrees = Q(answer=F("question__accepted_answer"))
    gold = Q(gold_check=True)
    votes = {
        row.pop("annotator"): row
        for row in Vote.objects.filter(annotator__in=ids)
        .values("annotator")
        .annotate(
            votes=Count("pk", filter=counted),
            invalid_flags=Count("pk", filter=counted & Q(invalid=True)),
            on_accepted=Count("pk", filter=on_accepted),
            agreed=Count("pk", filter=on_accepted & agrees),
            gold_checks=Count("pk", filter=gold),
            gold_correct=Count("pk", filter=gold & agrees),
            votes_cast=Count("pk"),
            first_vote=Min("created_at"),
            last_vote=Max("created_at"),
        )
        .order_by()
    }
    asked = dict(
        Question.objects.filter(author__in=ids)
        .values("author")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("author", "n")
    )
    watched = dict(
        WatchSession.objects.filter(annotator__in=ids, consumed_at__isnull=False)
        .values("annotator")
        .annotate(median=Median("credited_seconds"))
        .order_by()
        .values_list("annotator", "median")
    )
    return {
        pk: AnnotatorStatistics(
            asked=asked.get(pk, 0), median_watch_seconds=watched.get(pk), **votes.get(pk, {})
        )
        for pk in ids
    }


# --- the staff dashboard -------------------------------------------------------------------


def daily_totals() -> tuple[list[str], list[int], list[int]]:
    """Days, and the running totals of questions asked and pairs accepted by each day's end."""
    asked = dict(
        Question.objects.annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    accepted = dict(
        Question.objects.filter(status=QuestionStatus.ACCEPTED, decided_at__isnull=False)
        .annotate(day=TruncDate("decided_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    days = sorted(set(asked) | set(accepted))
    labels, asked_total, accepted_total = [], [], []
    running_asked = running_accepted = 0
    for day in days:
        running_asked += asked.get(day, 0)
        running_accepted += accepted.get(day, 0)
        labels.append(day.isoformat())
        asked_total.append(running_asked)
        accepted_total.append(running_accepted)
    return labels, asked_total, accepted_total


def template_coverage() -> list[tuple[QuestionTemplate, int, float, float]]:
    """(template, live questions, share of ours, share in the released validation split)."""
    counts = dict(
        Question.objects.live()
        .values_list("template")
        .annotate(n=Count("id"))
        .values_list("template", "n")
    )
    total = sum(counts.values()) or 1
    reference = catalogue.REFERENCE_TEMPLATE_COUNTS
    reference_total = sum(reference.values())
    return [
        (
            template,
            counts.get(template.pk, 0),
            counts.get(template.pk, 0) / total,
            reference[template.pk] / reference_total,
        )
        for template in QuestionTemplate.objects.order_by("pk")
    ]


def throughput(days: int = 7) -> list[tuple[str, int, int]]:
    """(annotator, questions, votes) over the last `days` days, busiest first."""
    since = timezone.now() - timedelta(days=days)
    asked = Counter(
        Question.objects.filter(created_at__gte=since).values_list("author__username", flat=True)
    )
    voted = Counter(
        Vote.objects.filter(created_at__gte=since).values_list("annotator__username", flat=True)
    )
    people = sorted(set(asked) | set(voted), key=lambda name: (-(asked[name] + voted[name]), name))
    return [(name, asked[name], voted[name]) for name in people]
