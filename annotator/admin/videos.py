"""Videos and their imports. A video's file comes in only through the import (the upload page,
admin/uploads.py, or `manage.py import_videos`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotator import imports, modelloop
from annotator.admin.base import ReadOnlyAdmin, RefreshingWhileInProgress
from annotator.admin.uploads import VideoUploadViews
from annotator.counts import count_per_row
from annotator.models import ImportStatus, Question, QuestionStatus, Video, VideoImport


@admin.register(Video)
class VideoAdmin(VideoUploadViews, admin.ModelAdmin):
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
        "file",
        "created_at",
        "feature_status",
        "feature_error",
        "feature_updated_at",
        "source_hash",
        "source_name",
        "clip_start_seconds",
    )
    actions = ("features_retry",)
    change_list_template = "admin/annotator/video/change_list.html"
    # A source URL typed without a scheme means https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

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
