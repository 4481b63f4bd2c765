"""Admin registrations. Status and answers change only through the services (the rules), so the
admin shows them read-only and offers review actions that call `question_review`."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from functools import partial
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from annotator import errors, imports, modelloop, selectors, services, uploads, video_import
from annotator.counts import count_per_row
from annotator.export import dataset_export, votes_file
from annotator.models import (
    ACTIVE_RUN_STATUSES,
    Annotator,
    Answer,
    ImportStatus,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    QuestionTemplate,
    StatusChange,
    TrainingRun,
    Video,
    VideoImport,
    Vote,
    WatchSession,
)
from annotator.qualification import (
    FAILED,
    OFF,
    PASSED,
    WAIVED,
    qualification_of,
    qualifications_of,
)
from qa_model import media


class RefreshingWhileInProgress:
    """An admin for work in progress (an import, a training run): its page reloads itself every
    `refresh_seconds` while `in_progress(obj)`, and its list while `in_progress(None)` (any)."""

    refresh_seconds = 5
    change_form_template = "admin/annotator/refreshing_change_form.html"

    def in_progress(self, obj: object | None) -> bool:
        return False

    def _refreshing(self, extra_context: dict | None, obj: object | None) -> dict:
        refresh = self.refresh_seconds if self.in_progress(obj) else None
        return {**(extra_context or {}), "refresh_seconds": refresh}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(request, self._refreshing(extra_context, None))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # get_object answers None for an id that is not one (the admin routes any path here).
        obj = self.get_object(request, unquote(object_id))
        context = self._refreshing(extra_context, obj) if obj is not None else extra_context
        return super().change_view(request, object_id, form_url, context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only by the rules or the catalogue: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "avqa_id",
        "title",
        "duration_seconds",
        "ensemble",
        "live",
        "accepted",
        "invalid",
        "feature_status",
        "is_active",
    )
    list_filter = ("is_active", "feature_status", "ensemble")
    search_fields = ("avqa_id", "title", "instruments", "source_name")
    # The file only comes in through the import (probed, limited, transcoded): the plain add and
    # change forms would store any file as it is.
    readonly_fields = (
        "file", "created_at", "feature_status", "feature_error", "feature_updated_at",
        "source_hash", "source_name", "clip_start_seconds",
    )  # fmt: skip
    actions = ("features_retry",)
    change_list_template = "admin/annotator/video/change_list.html"
    # A source URL typed without a scheme means https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload)
        return [path("upload/", upload, name="annotator_video_upload"), *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        return HttpResponseRedirect(reverse("admin:annotator_video_upload"))

    def upload(self, request: HttpRequest) -> HttpResponse:
        """Upload video files: each goes through the same import as `manage.py import_videos`.

        The upload handler must be set before anything reads the body, and CSRF protection reads
        it, so this view is exempt (see below) and checks the token itself once the handler has
        streamed (or refused) the files."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            context = {**self.admin_site.each_context(request), "title": "Upload videos",
                       "opts": self.model._meta,
                       "max_size": video_import.size_text(settings.IMPORT_MAX_BYTES)}  # fmt: skip
            return TemplateResponse(request, "admin/annotator/video/upload.html", context)
        handler = uploads.VideoUploadHandler(request)
        request.upload_handlers = [handler]
        uploaded = request.FILES.getlist("files")
        if handler.refusal:
            # A refused upload changes nothing but this message, so it needs no CSRF token (the
            # token is in the body, which was never read).
            self.message_user(request, handler.refusal, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:annotator_video_changelist"))
        return csrf_protect(self._import_uploads)(request, uploaded)

    upload.csrf_exempt = True  # admin_view then leaves CSRF to the view

    def _import_uploads(self, request: HttpRequest, uploaded: list) -> HttpResponse:
        if not uploaded:
            self.message_user(request, "Choose at least one file.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:annotator_video_upload"))
        # The files wait for the import job in a folder of their own on the media volume (the
        # worker reads it too), under the names their owner gave them, which the import reports
        # and makes ids of. The transcode runs there, never in this request.
        try:
            video_import.require_free_space(
                Path(settings.MEDIA_ROOT),
                sum(upload.size for upload in uploaded),
                name="The upload",
            )
        except media.MediaError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:annotator_video_upload"))
        folder = imports.spool_folder()
        names = []
        for upload in uploaded:
            target = video_import.upload_path(folder, upload.name)
            shutil.move(upload.temporary_file_path(), target)
            upload.close()
            names.append(target.name)
        job = imports.import_queue(
            folder=folder,
            files=names,
            requested_by=request.user,
            random_offsets=bool(request.POST.get("random_offsets")),
            delete_files=True,
        )
        self.message_user(
            request,
            f"Import {job.pk} queued: {len(names)} file(s). This page follows its progress; "
            "each file's outcome is listed when it is done.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:annotator_videoimport_change", args=[job.pk]))

    @admin.action(description="Extract features again (failed or stale videos)")
    def features_retry(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            modelloop.video_features_queue(video)
        self.message_user(request, f"Queued feature extraction for {queryset.count()} video(s).")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Video]:
        # Subqueries, evaluated for the rows of the page only (a join and a GROUP BY would count
        # the questions of every video before paginating).
        accepted = Question.objects.filter(status=QuestionStatus.ACCEPTED)
        invalid = Question.objects.filter(status=QuestionStatus.INVALID)
        return (
            super()
            .get_queryset(request)
            .annotate(
                accepted_count=count_per_row(accepted, "video"),
                invalid_count=count_per_row(invalid, "video"),
            )
        )

    @admin.display(description="")
    def thumbnail(self, video: Video) -> str:
        # The frame the first segment's features come from (served to staff, cached).
        url = reverse("review-frame", args=[video.pk, 0])
        return format_html('<img src="{}" width="64" height="64" alt="" loading="lazy">', url)

    @admin.display(description="live questions", ordering="live_questions")
    def live(self, video: Video) -> str:
        return f"{video.live_questions} / {settings.QUESTIONS_PER_VIDEO}"

    @admin.display(description="invalid", ordering="invalid_count")
    def invalid(self, video: Video) -> int:
        return video.invalid_count

    @admin.display(description="accepted", ordering="accepted_count")
    def accepted(self, video: Video) -> int:
        return video.accepted_count


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
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("id", "video", "text", "author", "status", "accepted_answer", "created_at")
    # No filter by video: its sidebar would list every video of the collection; the search box
    # finds a video's questions by its id.
    list_filter = (
        "status", ("gold_since", admin.EmptyFieldListFilter), "template__modality",
        "template__question_type", "template",
    )  # fmt: skip
    search_fields = ("video__avqa_id", "author__username", "template__text")
    list_select_related = ("video", "template", "author", "accepted_answer")
    readonly_fields = (
        "video", "template", "slot_values", "author", "status", "accepted_answer",
        "watch_session", "created_at", "decided_at", "gold_since", "origin_release",
        "origin_split", "origin_exemptions", "blind_score", "blind_answer",
    )  # fmt: skip
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

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_dataset)
        own = path("export/", export, name="annotator_question_export")
        return [own, *super().get_urls()]

    def export_dataset(self, request: HttpRequest) -> HttpResponse:
        """The accepted pairs as a MUSIC-AVQA dataset: a zip of the split files, provenance and
        manifest; with ?votes=1 also every raw vote (pseudonymous)."""
        dataset = dataset_export()
        files = dataset.files()
        if request.GET.get("votes") == "1":
            files["votes.json"] = votes_file()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
            archive.writestr("manifest.json", json.dumps(dataset.manifest(), indent=2) + "\n")
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="avqa-export-{stamp}.zip"'
        return response


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
        "id", "annotator", "video", "started_at", "credited_seconds", "heartbeats", "consumed_at",
    )  # fmt: skip
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


# --- the model in the loop ---------------------------------------------------------------


@admin.register(TrainingRun)
class TrainingRunAdmin(RefreshingWhileInProgress, ReadOnlyAdmin):
    list_display = (
        "id", "status", "trigger", "progress_summary", "accepted_pairs", "attempts", "created_at",
        "started_at", "finished_at", "short_error",
    )  # fmt: skip
    list_filter = ("status", "trigger")
    fields = (
        "status", "trigger", "requested_by", "accepted_pairs", "attempts", "created_at",
        "started_at", "heartbeat_at", "finished_at", "progress", "error",
    )  # fmt: skip
    readonly_fields = fields
    change_list_template = "admin/annotator/trainingrun/change_list.html"
    refresh_seconds = 5

    def in_progress(self, run: TrainingRun | None) -> bool:
        if run is None:
            return TrainingRun.objects.filter(status__in=ACTIVE_RUN_STATUSES).exists()
        return run.status in ACTIVE_RUN_STATUSES

    def get_urls(self):
        retrain = self.admin_site.admin_view(require_POST(self.retrain_now))
        own = path("retrain-now/", retrain, name="annotator_trainingrun_retrain")
        return [own, *super().get_urls()]

    def retrain_now(self, request: HttpRequest) -> HttpResponseRedirect:
        if not request.user.has_perm("annotator.add_trainingrun"):
            self.message_user(request, "Only admins can start a training run.", messages.ERROR)
        else:
            try:
                run = modelloop.retrain_now(requested_by=request.user)
                self.message_user(request, f"Queued training run {run.pk}.")
            except errors.RunActive as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:annotator_trainingrun_changelist"))

    @admin.display(description="progress")
    def progress_summary(self, run: TrainingRun) -> str:
        progress = run.progress or {}
        parts = [progress.get("stage", "")]
        if progress.get("epochs"):
            parts.append(f"epoch {progress.get('epoch')}/{progress['epochs']}")
        if progress.get("loss") is not None:
            parts.append(f"loss {progress['loss']:.3f}")
        if progress.get("val_accuracy") is not None:
            parts.append(f"val {progress['val_accuracy']:.1%}")
        return ", ".join(part for part in parts if part)

    @admin.display(description="error")
    def short_error(self, run: TrainingRun) -> str:
        return run.error[:80]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "number", "is_active", "created_at", "train_pairs", "test_accuracy", "best_val_accuracy",
        "device", "duration_seconds", "run",
    )  # fmt: skip
    list_filter = ("is_active", "device")
    fields = (
        "number", "is_active", "run", "created_at", "dataset_hash", "dataset_counts", "config",
        "device", "duration_seconds", "best_epoch", "best_val_accuracy", "metrics", "notes",
        "checkpoint",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="train pairs")
    def train_pairs(self, version: ModelVersion) -> int | None:
        return (version.dataset_counts.get("train") or {}).get("pairs")

    @admin.display(description="test accuracy (All)")
    def test_accuracy(self, version: ModelVersion) -> str:
        overall = (version.metrics.get("columns") or {}).get("All")
        return "—" if overall is None else f"{overall:.1%}"


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("id", "version", "question", "answer", "confidence", "created_at")
    list_filter = ("version",)
    search_fields = ("question__video__avqa_id",)
    list_select_related = ("version", "question__template")


# --- annotators and their quality ------------------------------------------------------------


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
        "username", "is_active", "qualified", "asked", "votes", "agreement", "gold",
        "invalid_rate", "median_watch", "votes_per_hour", "date_joined",
    )  # fmt: skip
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


@admin.register(VideoImport)
class VideoImportAdmin(RefreshingWhileInProgress, ReadOnlyAdmin):
    """Imports of video files, which run on the worker: progress while they run (the page
    reloads itself), then each file's outcome."""

    list_display = (
        "id",
        "created_at",
        "requested_by",
        "status",
        "percent",
        "file_count",
        "clips_made",
        "refused",
        "current_file",
    )
    list_filter = ("status",)
    fields = (
        "status",
        "percent",
        "current_file",
        "file_count",
        "files_done",
        "clips_made",
        "refused",
        "outcome_lines",
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "random_offsets",
    )
    readonly_fields = fields
    actions = ("run_again",)

    @admin.display(description="progress")
    def percent(self, job: VideoImport) -> str:
        return f"{job.progress:.0%}"

    @admin.display(description="files")
    def file_count(self, job: VideoImport) -> int:
        return len(job.files)

    @admin.display(description="outcome of each file")
    def outcome_lines(self, job: VideoImport) -> str:
        return format_html_join("\n", "<div>{}</div>", ((line,) for line in job.outcomes)) or "–"

    refresh_seconds = 3

    def in_progress(self, job: VideoImport | None) -> bool:
        return job is not None and job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @admin.action(description="Run failed imports again (from the file they stopped at)")
    def run_again(self, request: HttpRequest, queryset: QuerySet[VideoImport]) -> None:
        again = sum(imports.imports_failed_requeue(job.pk) for job in queryset)
        self.message_user(request, f"Queued {again} import(s) again.")
