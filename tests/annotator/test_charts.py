"""Server-side SVG charts: what they draw, their title and text alternative, and labels
(usernames, template text) escaped."""

from __future__ import annotations

from annotator import charts


def test_a_line_per_series_with_gaps_for_missing_points():
    svg = charts.line_chart(
        ["v1", "v2", "v3"],
        {"All": [0.4, None, 0.6], "AV": [0.3, 0.5, 0.7]},
        percent=True,
        title="Accuracy per version",
    )
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 5
    assert "100%" in svg and "v3" in svg
    # Read by screen readers: what it is, and what it shows in words.
    assert "<title" in svg and "Accuracy per version</title>" in svg
    assert "All: 40% at v1, 60% at v3; AV: 30% at v1, 70% at v3.</desc>" in svg
    assert 'role="img" aria-labelledby="chart-' in svg


def test_bars_with_reference_marks():
    svg = charts.bar_chart(
        [("Audio / Counting", 0.5, 0.25), ("Visual / Location", 0.1, None)],
        title="Share per type",
        reference_name="released",
    )
    assert svg.count('fill="#1b6ca8"') == 2 and svg.count('fill="#222"') == 1
    assert "50.0%" in svg
    assert "Audio / Counting 50% (released 25%); Visual / Location 10%.</desc>" in svg


def test_labels_are_escaped():
    svg = charts.bar_chart([("<script>alert(1)</script>", 3, None)], percent=False, title="<i>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<i>" not in svg
    line = charts.line_chart(["<b>day</b>"], {"<img src=x>": [1]}, title="t")
    assert "<img" not in line and "<b>day" not in line
