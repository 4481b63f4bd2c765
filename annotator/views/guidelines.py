"""The annotator guidelines page: how the work goes, the templates of each modality with what
their slots mean, and worked examples."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator import guidelines
from qa_model import catalogue


@require_GET
def guidelines_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "annotator/guidelines.html",
        {
            "modalities": guidelines.modality_guides(),
            "slots": [
                (slot, guidelines.SLOT_MEANINGS[slot], ", ".join(values).replace("_", " "))
                for slot, values in catalogue.SLOT_VALUES.items()
            ],
            "scene": guidelines.example_scene(),
            "watch_seconds": settings.WATCH_MIN_SECONDS,
            "accept_votes": settings.ACCEPT_VOTES,
            "invalid_votes": settings.INVALID_VOTES,
            "questions_per_video": settings.QUESTIONS_PER_VIDEO,
        },
    )
