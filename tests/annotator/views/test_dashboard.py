"""The staff dashboard: totals, progress over time, coverage against the released split, answer
priors, throughput; staff only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import selectors
from tests.annotator.helpers import ask, video_make, vote


@pytest.fixture
def work(annotator, other_annotator, third_annotator):
    """Two yes/no questions of template 1 accepted "yes", one of template 2 accepted "two"."""
    for _ in range(2):
        question = ask(annotator, video_make(), template_id=1)
        vote(other_annotator, question, "yes")
        vote(third_annotator, question, "yes")
    question = ask(annotator, video_make(), template_id=2)
    vote(other_annotator, question, "two")
    vote(third_annotator, question, "two")


def test_staff_see_every_chart(client, reviewer, work):
    client.force_login(reviewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert "<b>3</b> accepted pairs" in html
    assert html.count('<svg class="chart') == 4  # progress, types, templates, throughput
    assert "questions asked" in html and "pairs accepted" in html
    assert "Audio / Counting" in html
    assert "⚠ prior" not in html  # template 1 is all "yes", but on 2 pairs only


def test_a_strong_prior_is_flagged(client, reviewer, work, monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules["annotator.views.dashboard"], "PRIOR_MIN_PAIRS", 2)
    client.force_login(reviewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert html.count("⚠ prior") == 1  # template 1: "yes" takes all of its 2 pairs


def test_annotators_get_404(client, annotator):
    client.force_login(annotator)
    assert client.get(reverse("dashboard")).status_code == 404


def test_coverage_is_compared_with_the_released_split(work):
    coverage = {template.pk: (count, share, ref) for template, count, share, ref
                in selectors.template_coverage()}  # fmt: skip
    assert coverage[1][:2] == (2, pytest.approx(2 / 3))
    assert coverage[1][2] == pytest.approx(168 / 4568)
    assert sum(ref for _, _, ref in coverage.values()) == pytest.approx(1.0)


def test_priors_and_throughput(work):
    priors = {p["template"].pk: p for p in selectors.answer_priors()}
    assert priors[1]["top"] == [("yes", 1.0)] and priors[2]["total"] == 1
    assert selectors.throughput() == [("alice", 3, 0), ("bob", 0, 3), ("carol", 0, 3)]
    days, asked, accepted = selectors.daily_totals()
    assert asked[-1] == 3 and accepted[-1] == 3 and len(days) == 1
