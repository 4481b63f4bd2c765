"""Server-side SVG charts: what they draw, and labels (usernames, template text) escaped."""

from __future__ import annotations

from annotator import charts


def test_a_line_per_series_with_gaps_for_missing_points():
    svg = charts.line_chart(["v1", "v2", "v3"], {"All": [0.4, None, 0.6], "AV": [0.3, 0.5, 0.7]},
                            percent=True)  # fmt: skip
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 5
    assert "100%" in svg and "v3" in svg


def test_bars_with_reference_marks():
    svg = charts.bar_chart([("Audio / Counting", 0.5, 0.25), ("Visual / Location", 0.1, None)])
    assert svg.count('fill="#1b6ca8"') == 2 and svg.count('fill="#222"') == 1
    assert "50.0%" in svg


def test_labels_are_escaped():
    svg = charts.bar_chart([("<script>alert(1)</script>", 3, None)], percent=False)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    line = charts.line_chart(["<b>day</b>"], {"<img src=x>": [1]})
    assert "<img" not in line and "<b>day" not in line
