"""Annotators and their quality: each row of their list with its statistics, and the action
that deactivates one and discounts their votes."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from annotator import selectors, services
from annotator.models import Annotator
from annotator.qualification import (
    FAILED,
    OFF,
    PASSED,
    WAIVED,
    qualification_of,
    qualifications_of,
)


class _AnnotatorChangeList(ChangeList):
    """The list of annotators, each row with its statistics: computed for the page in a few
    queries (selectors.annotator_statistics), not several per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        page = list(self.result_list)  # evaluated once; the template lists these same objects
        statistics = selectors.annotator_statistics(page)
        standings = qualifications_of(page)
        for annotator in page:
            annotator.statistics = statistics[annotator.pk]
            annotator.qualification = standings[annotator.pk]


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "is_active",
        "qualified",
        "asked",
        "votes",
        "agreement",
        "gold",
        "invalid_rate",
        "median_watch",
        "votes_per_hour",
        "date_joined",
    )
    list_filter = ("is_active",)
    search_fields = ("username", "email")
    fields = ("username", "email", "is_active", "date_joined", "last_login")
    readonly_fields = ("username", "date_joined", "last_login")
    actions = ("deactivate_and_discount",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Annotator]:
        return selectors.annotators_with_counts(super().get_queryset(request))

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return _AnnotatorChangeList

    @staticmethod
    def _statistics(annotator: Annotator) -> selectors.AnnotatorStatistics:
        statistics = getattr(annotator, "statistics", None)
        return statistics or selectors.annotator_statistics([annotator])[annotator.pk]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # annotators sign up through accounts, not here

    @admin.display(description="qualification")
    def qualified(self, annotator: Annotator) -> str:
        standing = getattr(annotator, "qualification", None)
        if standing is None:
            standing = qualification_of(annotator)
        if standing.state == OFF:
            return "—"
        if standing.state in (PASSED, FAILED):
            return f"{standing.state} ({standing.correct} of {standing.required} right)"
        if standing.state == WAIVED:
            return "waived: too few gold questions to test"
        return f"in progress ({standing.done} of {standing.required})"

    @admin.display(description="questions", ordering="asked")
    def asked(self, annotator: Annotator) -> int:
        return annotator.asked

    @admin.display(description="votes", ordering="vote_count")
    def votes(self, annotator: Annotator) -> int:
        return annotator.vote_count

    @admin.display(description="agrees with accepted")
    def agreement(self, annotator: Annotator) -> str:
        statistics = self._statistics(annotator)
        if not statistics.on_accepted:
            return "—"
        return f"{statistics.agreed / statistics.on_accepted:.0%} of {statistics.on_accepted}"

    @admin.display(description="gold accuracy")
    def gold(self, annotator: Annotator) -> str:
        statistics = self._statistics(annotator)
        correct, checks = statistics.gold_correct, statistics.gold_checks
        flag = " (below the bar: offered no work)" if statistics.below_gold_bar else ""
        return f"{correct / checks:.0%} of {checks}{flag}" if checks else "—"

    @admin.display(description="invalid flags")
    def invalid_rate(self, annotator: Annotator) -> str:
        statistics = self._statistics(annotator)
        if not statistics.votes:
            return "—"
        return f"{statistics.invalid_flags / statistics.votes:.0%}"

    @admin.display(description="median watch (s)")
    def median_watch(self, annotator: Annotator) -> str:
        seconds = self._statistics(annotator).median_watch_seconds
        return "—" if seconds is None else f"{seconds:.0f}"

    @admin.display(description="votes / hour")
    def votes_per_hour(self, annotator: Annotator) -> str:
        rate = self._statistics(annotator).votes_per_hour
        return "—" if rate is None else f"{rate:.0f}"

    @admin.action(description="Deactivate, discount their votes and re-evaluate those questions")
    def deactivate_and_discount(self, request: HttpRequest, queryset: QuerySet) -> None:
        for annotator in queryset:
            outcome = services.annotator_deactivate(annotator=annotator, by=request.user)
            self.message_user(
                request,
                f"{annotator}: {outcome['votes_discounted']} vote(s) discounted, "
                f"{outcome['questions_changed']} question(s) changed, "
                f"{outcome['questions_kept']} kept (reviewed, or their slot was taken).",
            )
