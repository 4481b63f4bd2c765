"""Questions and what is recorded about them: templates, answers, votes, viewings and the
history of their statuses. Status and answers change only through the services (the rules), so
the admin shows them read-only and offers review actions that call `question_review`."""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from annotator import errors, services
from annotator.admin.base import ReadOnlyAdmin
from annotator.admin.export import DatasetExportView
from annotator.models import (
    Answer,
    Question,
    QuestionTemplate,
    StatusChange,
    Vote,
    WatchSession,
)


@admin.register(QuestionTemplate)
class QuestionTemplateAdmin(ReadOnlyAdmin):
    list_display = ("id", "modality", "question_type", "text", "answer_kind")
    list_filter = ("modality", "question_type", "answer_kind")
    search_fields = ("text",)


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ("id", "text")
    search_fields = ("text",)


class VoteInline(admin.TabularInline):
    model = Vote
    fields = ("annotator", "answer", "invalid", "gold_check", "created_at", "discounted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    fields = ("created_at", "from_status", "to_status", "accepted_answer", "cause", "actor", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _each_question(modeladmin, request, queryset, use_case, description: str) -> None:
    """Run a reviewer's use case on each selected question; report refusals one by one."""
    done = 0
    for question in queryset:
        try:
            use_case(reviewer=request.user, question=question)
            done += 1
        except errors.RuleViolation as refusal:
            modeladmin.message_user(
                request, f"Question {question.pk}: {refusal}", level=messages.WARNING
            )
    if done:
        modeladmin.message_user(request, f"{description}: {done} question(s).")


def _review_action(action: str, description: str):
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        review = partial(services.question_review, action=action)
        _each_question(modeladmin, request, queryset, review, description)

    run.__name__ = f"review_{action}"
    run.short_description = description
    return run


@admin.register(Question)
class QuestionAdmin(DatasetExportView, admin.ModelAdmin):
    list_display = ("id", "video", "text", "author", "status", "accepted_answer", "created_at")
    # No filter by video: its sidebar would list every video of the collection; the search box
    # finds a video's questions by its id.
    list_filter = (
        "status",
        ("gold_since", admin.EmptyFieldListFilter),
        "template__modality",
        "template__question_type",
        "template",
    )
    search_fields = ("video__avqa_id", "author__username", "template__text")
    list_select_related = ("video", "template", "author", "accepted_answer")
    readonly_fields = (
        "video",
        "template",
        "slot_values",
        "author",
        "status",
        "accepted_answer",
        "watch_session",
        "created_at",
        "decided_at",
        "gold_since",
        "origin_release",
        "origin_split",
        "origin_exemptions",
        "blind_score",
        "blind_answer",
    )
    inlines = (VoteInline, StatusChangeInline)
    actions = (
        _review_action(services.INVALIDATE, "Invalidate (reopens the slot and template)"),
        _review_action(services.REOPEN, "Reopen for a fresh round of votes"),
        "gold_mark",
        "gold_unmark",
    )

    @admin.action(description="Make gold (offered again, unknowingly, to measure annotators)")
    def gold_mark(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._gold(request, queryset, gold=True)

    @admin.action(description="Stop being gold")
    def gold_unmark(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._gold(request, queryset, gold=False)

    def _gold(self, request: HttpRequest, queryset: QuerySet, *, gold: bool) -> None:
        mark = partial(services.question_gold_set, gold=gold)
        _each_question(self, request, queryset, mark, "Made gold" if gold else "No longer gold")

    change_list_template = "admin/annotator/question/change_list.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only (a question changes only through the review actions, which
        # keep its history): a Save button would save nothing.
        buttons_off = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **buttons_off}
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A question is part of the audit trail (its votes, its history, its video's count of
        # live questions); it leaves the collection by being invalidated, never deleted.
        return False


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "question",
        "annotator",
        "answer",
        "invalid",
        "created_at",
        "discounted_at",
    )
    list_filter = ("invalid", "created_at")
    search_fields = ("annotator__username", "question__video__avqa_id")
    list_select_related = ("question__template", "annotator", "answer")


@admin.register(WatchSession)
class WatchSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "annotator",
        "video",
        "started_at",
        "credited_seconds",
        "heartbeats",
        "consumed_at",
    )
    list_filter = ("consumed_at", "started_at")
    search_fields = ("annotator__username", "video__avqa_id")
    list_select_related = ("annotator", "video")


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "question",
        "from_status",
        "to_status",
        "accepted_answer",
        "cause",
        "actor",
    )
    list_filter = ("cause", "to_status", "created_at")
    search_fields = ("question__video__avqa_id", "actor__username", "note")
    list_select_related = ("question__template", "accepted_answer", "actor")
