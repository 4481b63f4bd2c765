"""Small SVG charts drawn on the server (no chart library, no CDN): lines over an axis of labels,
and horizontal bars with an optional reference mark."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#1b6ca8", "#d1495b", "#2e8540", "#222222", "#8e6c8a", "#e08e0b")
_ids = itertools.count(1)


def _opening(css: str, width: int, height: int, title: str, description: str) -> str:
    """An SVG image with its title and a text alternative that says what it shows, both read
    by screen readers (and shown by browsers as a tooltip)."""
    number = next(_ids)
    return (
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-{number}-title chart-{number}-desc">'
        f'<title id="chart-{number}-title">{escape(title)}</title>'
        f'<desc id="chart-{number}-desc">{escape(description)}</desc>'
    )


def _shown(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:g}"


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    percent: bool = False,
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """One line per series over `labels` (e.g. versions or days); None leaves a gap. Its text
    alternative gives each series' first and last values."""
    pad = 40
    values = [v for points in series.values() for v in points if v is not None]
    top = 1.0 if percent else max(values or [1]) or 1
    span = max(len(labels) - 1, 1)

    def x(index: int) -> float:
        return pad + index / span * (width - 2 * pad)

    def y(value: float) -> float:
        return height - pad - value / top * (height - 2 * pad)

    summary = []
    for name, points in series.items():
        known = [(labels[i], v) for i, v in enumerate(points) if v is not None]
        if known:
            (first_label, first), (last_label, last) = known[0], known[-1]
            summary.append(
                f"{name}: {_shown(first, percent)} at {first_label}, "
                f"{_shown(last, percent)} at {last_label}"
            )
    parts = [_opening("chart", width, height, title, "; ".join(summary) + ".")]
    for tick in range(5):
        value = top * tick / 4
        label = f"{value:.0%}" if percent else f"{value:.0f}"
        parts.append(
            f'<line x1="{pad}" x2="{width}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#e3e6ec"/><text x="2" y="{y(value):.1f}" font-size="10" dy="3">{label}</text>'
        )
    step = max(1, len(labels) // 8)
    for index, label in enumerate(labels):
        if index % step == 0 or index == len(labels) - 1:
            parts.append(
                f'<text x="{x(index):.1f}" y="{height - 8}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    legend = []
    for (name, points), colour in zip(series.items(), COLOURS, strict=False):
        coordinates = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coordinates)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>'
            for px, py in coordinates
        ]
        # An SVG swatch, not style="color: …": the content-security policy refuses style
        # attributes (config/csp.py), not SVG presentation attributes.
        legend.append(
            f'<span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
            f'<rect width="10" height="10" fill="{colour}"/></svg> {escape(name)}</span>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + f'<p class="legend">{" ".join(legend)}</p>')


def bar_chart(
    rows: Sequence[tuple[str, float, float | None]],
    *,
    title: str,
    reference_name: str = "reference",
    percent: bool = True,
    width: int = 640,
) -> SafeString:
    """Horizontal bars (label, value, reference): a reference draws a dark tick on the bar. Its
    text alternative lists every bar with its value (and reference)."""
    bar, gap, label_width = 14, 4, 220
    height = len(rows) * (bar + gap) + gap
    top = 1.0 if not rows else max(max(v, r or 0) for _, v, r in rows) or 1.0
    scale = (width - label_width - 60) / top
    described = [
        f"{label} {_shown(value, percent)}"
        + ("" if reference is None else f" ({reference_name} {_shown(reference, percent)})")
        for label, value, reference in rows
    ]
    parts = [_opening("chart bars", width, height, title, "; ".join(described) + ".")]
    for index, (label, value, reference) in enumerate(rows):
        top_y = gap + index * (bar + gap)
        shown = f"{value:.1%}" if percent else f"{value:g}"
        length = value * scale
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="#1b6ca8"/>'
                '<text x="{}" y="{}" font-size="10">{}</text>',
                label_width - 6,
                top_y + bar - 3,
                label,
                label_width,
                top_y,
                f"{length:.1f}",
                bar,
                f"{label_width + length + 4:.1f}",
                top_y + bar - 3,
                shown,
            )
        )
        if reference is not None:
            parts.append(
                f'<rect x="{label_width + reference * scale - 1:.1f}" y="{top_y - 1}" '
                f'width="2" height="{bar + 2}" fill="#222"/>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))
