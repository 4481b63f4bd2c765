"""The staff dashboard: progress over time, coverage of the templates and types against the
released dataset, answer balance and blind-answerability per template, and who is doing the
work."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator import balance, charts, selectors
from annotator.models import LIVE_STATUSES, Question, QuestionStatus, Video
from annotator.views.review import QUEUES, reviewer_required
from qa_model.catalogue import TABLE2_TYPES


def _type_coverage(coverage: list) -> list[tuple[str, float, float]]:
    ours: dict[tuple[str, str], float] = {}
    reference: dict[tuple[str, str], float] = {}
    for template, _, share, reference_share in coverage:
        key = (template.modality, template.question_type)
        ours[key] = ours.get(key, 0.0) + share
        reference[key] = reference.get(key, 0.0) + reference_share
    return [
        (f"{m} / {t}", ours.get((m, t), 0.0), reference.get((m, t), 0.0)) for m, t in TABLE2_TYPES
    ]


@reviewer_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    days, asked, accepted = selectors.daily_totals()
    coverage = selectors.template_coverage()
    balances = [row for row in balance.template_balance() if row.pairs]
    people = selectors.throughput()
    totals = Question.objects.aggregate(
        live=Count("id", filter=Q(status__in=LIVE_STATUSES)),
        accepted=Count("id", filter=Q(status=QuestionStatus.ACCEPTED)),
        invalid=Count("id", filter=Q(status=QuestionStatus.INVALID)),
        disputed=Count("id", filter=Q(status=QuestionStatus.DISPUTED)),
    )
    return render(
        request,
        "annotator/review/dashboard.html",
        {
            "queues": QUEUES,
            "page_name": "dashboard",
            "totals": totals,
            "videos": Video.objects.count(),
            "progress_chart": charts.line_chart(
                days,
                {"questions asked": asked, "pairs accepted": accepted},
                title="Questions asked and pairs accepted, in all, by day",
            )
            if days
            else "",
            "type_chart": charts.bar_chart(
                _type_coverage(coverage),
                title="Share of live questions per type",
                reference_name="released validation split",
            ),
            "template_chart": charts.bar_chart(
                [(f"{t.pk}. {t.text[:28]}", share, ref) for t, _, share, ref in coverage],
                title="Share of live questions per template",
                reference_name="released validation split",
            ),
            "balances": balances,
            "skew_warning": balance.SKEW_WARNING,
            "balance_min_pairs": balance.BALANCE_MIN_PAIRS,
            "blind_score_warning": settings.BLIND_SCORE_WARNING,
            "throughput_chart": charts.bar_chart(
                [(name, q + v, None) for name, q, v in people[:25]],
                percent=False,
                title="Questions and votes per annotator, last 7 days",
            )
            if people
            else "",
            "people": people,
        },
    )
