"""The model in the loop: training runs (with live progress, and a button to retrain now), the
versions they made and their predictions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from annotator import errors, modelloop
from annotator.admin.base import ReadOnlyAdmin, RefreshingWhileInProgress
from annotator.models import ACTIVE_RUN_STATUSES, ModelVersion, Prediction, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(RefreshingWhileInProgress, ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "trigger",
        "progress_summary",
        "accepted_pairs",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "short_error",
    )
    list_filter = ("status", "trigger")
    fields = (
        "status",
        "trigger",
        "requested_by",
        "accepted_pairs",
        "attempts",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "progress",
        "error",
    )
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
        "number",
        "is_active",
        "created_at",
        "train_pairs",
        "test_accuracy",
        "best_val_accuracy",
        "device",
        "duration_seconds",
        "run",
    )
    list_filter = ("is_active", "device")
    fields = (
        "number",
        "is_active",
        "run",
        "created_at",
        "dataset_hash",
        "dataset_counts",
        "config",
        "device",
        "duration_seconds",
        "best_epoch",
        "best_val_accuracy",
        "metrics",
        "notes",
        "checkpoint",
    )
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
