"""The staff dashboard: totals, progress over time, coverage against the released split, answer
balance, throughput; staff only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import balance, selectors
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


@pytest.mark.slow
def test_staff_see_every_chart(client, reviewer, work):
    client.force_login(reviewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert "<b>3</b> accepted pairs" in html
    assert html.count('<svg class="chart') == 4  # progress, types, templates, throughput
    assert "questions asked" in html and "pairs accepted" in html
    assert "Audio / Counting" in html
    assert "⚠ skewed" not in html  # template 1 is all "yes", but on 2 pairs only
    assert "not scored yet" in html


def test_a_skewed_template_is_flagged(client, reviewer, work, monkeypatch):
    monkeypatch.setattr(balance, "BALANCE_MIN_PAIRS", 2)
    client.force_login(reviewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert html.count("⚠ skewed") == 1  # template 1: "yes" takes all of its 2 pairs


def test_annotators_get_404(client, annotator):
    client.force_login(annotator)
    assert client.get(reverse("dashboard")).status_code == 404


def test_coverage_is_compared_with_the_released_split(work):
    coverage = {
        template.pk: (count, share, ref)
        for template, count, share, ref in selectors.template_coverage()
    }
    assert coverage[1][:2] == (2, pytest.approx(2 / 3))
    assert coverage[1][2] == pytest.approx(168 / 4568)
    assert sum(ref for _, _, ref in coverage.values()) == pytest.approx(1.0)


def test_balance_and_throughput(work):
    rows = {row.template.pk: row for row in balance.template_balance()}
    assert [(a.answer, a.share) for a in rows[1].answers] == [("yes", 1.0)]
    assert rows[2].pairs == 1 and rows[3].pairs == 0
    assert selectors.throughput() == [("alice", 3, 0), ("bob", 0, 3), ("carol", 0, 3)]
    days, asked, accepted = selectors.daily_totals()
    assert asked[-1] == 3 and accepted[-1] == 3 and len(days) == 1
