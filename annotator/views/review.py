"""Review pages for staff: where the model disagrees with the crowd, what it suggests for open
questions, disputed questions, one question with where the model looked, and the model's
accuracy across versions. Annotators get 404 for all of it (they never see predictions)."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from PIL import Image

from annotator import balance, charts, errors, selectors, services
from annotator.models import ACTIVE_RUN_STATUSES, ModelVersion, Prediction, TrainingRun, Video
from qa_model import contract
from qa_model.decode import DEFAULT_SECONDS, FeatureError, decode_frames

PAGE_SIZE = 50
QUEUES = {
    "disagreements": "Model disagrees with the crowd",
    "suggestions": "Open, with the model's suggestion",
    "disputed": "Disputed",
    "blind": "Answerable without watching",
}


def reviewer_required(view: Callable) -> Callable:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not selectors.is_reviewer(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@reviewer_required
@require_GET
def review_queue(request: HttpRequest, queue: str = "disagreements") -> HttpResponse:
    if queue not in QUEUES:
        raise Http404
    version = selectors.model_version_active()
    if queue == "disputed":
        items = selectors.review_disputed()
    elif queue == "blind":
        items = balance.blind_answerable()
    elif version is None:
        items = Prediction.objects.none()
    elif queue == "disagreements":
        items = selectors.review_disagreements(
            version, min_confidence=settings.REVIEW_MIN_CONFIDENCE
        )
    else:
        items = selectors.review_suggestions(version)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "annotator/review/queue.html",
        {
            "queue": queue,
            "queues": QUEUES,
            "page": page,
            "version": version,
            "min_confidence": settings.REVIEW_MIN_CONFIDENCE,
            "blind_score_warning": settings.BLIND_SCORE_WARNING,
        },
    )


def _segments(prediction: Prediction | None) -> list[dict]:
    """The temporal-attention strip: one cell per sampled segment, shaded by its weight."""
    if prediction is None or not prediction.visual_weights:
        return []
    visual = prediction.visual_weights
    audio = prediction.audio_weights or [0.0] * len(visual)
    top_visual, top_audio = max(visual) or 1.0, max(audio) or 1.0
    seconds = DEFAULT_SECONDS if len(DEFAULT_SECONDS) == len(visual) else range(len(visual))
    return [
        {
            "second": second,
            "visual": v,
            "audio": a,
            "visual_shade": round(v / top_visual, 3),
            "audio_shade": round(a / top_audio, 3),
        }
        for second, v, a in zip(seconds, visual, audio, strict=True)
    ]


def _heat_maps(prediction: Prediction | None) -> list[dict]:
    """Spatial maps over the frames of the most attended segments (the paper's Fig. 4)."""
    if prediction is None or not prediction.spatial_maps:
        return []
    maps = []
    seconds = list(DEFAULT_SECONDS)
    for segment, grid in zip(
        prediction.spatial_maps["segments"], prediction.spatial_maps["maps"], strict=True
    ):
        values = [value for row in grid for value in row]
        low, high = min(values), max(values)
        # Stretched from the map's least to its most attended patch: attention spread over 196
        # patches is close to uniform in absolute terms, and shaded by its peak alone it reads
        # as an even wash. The legend gives the real range.
        spread = (high - low) or 1.0
        maps.append(
            {
                "second": seconds[segment] if segment < len(seconds) else segment,
                "cells": [round(0.75 * (value - low) / spread, 3) for value in values],
                "range": f"{100 * low:.2f}–{100 * high:.2f} %",
            }
        )
    return maps


@reviewer_required
@require_http_methods(["GET", "POST"])
def review_question(request: HttpRequest, pk: int) -> HttpResponse:
    question = selectors.question_for_review(pk)
    if request.method == "POST":
        try:
            services.question_review(
                reviewer=request.user,
                question=question,
                action=request.POST.get("action", ""),
                answer=request.POST.get("answer") or None,
                note=request.POST.get("note", "")[:1000],
            )
            messages.success(request, "Saved to the question's history.")
        except errors.RuleViolation as refusal:
            messages.error(request, str(refusal))
        return redirect("review-question", pk=question.pk)
    version = selectors.model_version_active()
    prediction = selectors.prediction_for(question, version)
    return render(
        request,
        "annotator/review/question.html",
        {
            "question": question,
            "votes": question.votes.select_related("annotator", "answer").order_by("created_at"),
            "history": question.history.select_related("actor", "accepted_answer"),
            "prediction": prediction,
            "segments": _segments(prediction),
            "heat_maps": _heat_maps(prediction),
            "answers": question.template.answers,
        },
    )


@reviewer_required
@require_GET
def review_frame(request: HttpRequest, pk: int, second: int) -> HttpResponse:
    """The frame a segment's features were made from, as a JPEG (for the heat maps)."""
    video = get_object_or_404(Video, pk=pk)
    if not 0 <= second < contract.CLIP_SECONDS:
        raise Http404
    try:
        frame = decode_frames(video.file.path, [second])[0]
    except (FeatureError, FileNotFoundError, ValueError):
        raise Http404 from None
    image = Image.fromarray(frame).resize((contract.FRAME_SIDE, contract.FRAME_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    response = HttpResponse(buffer.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- the model page --------------------------------------------------------------------------

_CHART_SERIES = ("A avg", "V avg", "AV avg", "All")


def _accuracy_chart(versions: list[ModelVersion]) -> str:
    """Accuracy per modality and overall on the held-out split, across versions."""
    series = {
        name: [(v.metrics.get("columns") or {}).get(name) for v in versions]
        for name in _CHART_SERIES
    }
    return charts.line_chart(
        [f"v{v.number}" for v in versions],
        series,
        percent=True,
        title="Test accuracy of each model version, per modality and overall",
    )


@reviewer_required
@require_GET
def review_model(request: HttpRequest) -> HttpResponse:
    runs = list(TrainingRun.objects.order_by("-id")[:5])
    runs_context = {
        "runs": runs,
        "runs_active": any(run.status in ACTIVE_RUN_STATUSES for run in runs),
    }
    if request.GET.get("part") == "runs":  # htmx polling while a run is active
        return render(request, "annotator/review/_runs.html", runs_context)
    versions = list(ModelVersion.objects.select_related("run").order_by("number"))
    columns = [name for name in (versions[-1].metrics.get("columns") or {})] if versions else []

    def cells(metrics: dict) -> list:
        return [(metrics.get("columns") or {}).get(column) for column in columns]

    # Each version's baselines (question-only, trained on the same split in the same run)
    # under it: what the model adds to the question alone.
    rows = [
        {
            "version": v,
            "variant": v.config.get("variant", ""),
            "cells": cells(v.metrics),
            "baselines": [(name, cells(table)) for name, table in v.baselines.items()],
        }
        for v in reversed(versions)
    ]
    return render(
        request,
        "annotator/review/model.html",
        {
            "queues": QUEUES,
            "page_name": "model",
            "versions": versions,
            "columns": columns,
            "rows": rows,
            "chart": _accuracy_chart(versions) if versions else "",
            **runs_context,
            "admin_runs": reverse("admin:annotator_trainingrun_changelist"),
        },
    )
