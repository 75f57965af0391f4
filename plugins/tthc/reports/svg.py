"""The 12-month trend chart of a unit's total (or of one group's points), as inline SVG (no
browser, no plotting library).

A pure function of the trend points: the same input gives the same bytes, so the golden
image of a scorecard stays stable. Months without a score break the line instead of
drawing it through zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from tthc.reports.formatting import format_month_short, format_number
from tthc.reports.model import TrendPoint

FONT = "'Liberation Serif', 'Tinos', 'Times New Roman', serif"


def _segments(values: Sequence[float | None]) -> list[list[int]]:
    """Indices of consecutive scored months: [[0, 1, 2], [4, 5], …]."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def trend_svg(
    points: Sequence[TrendPoint],
    width: float = 600,
    height: float = 190,
    thresholds: Sequence[float] = (50, 70, 80),
    maximum: float = 100,
) -> str:
    """An SVG line chart of totals (0–`maximum`) by month, with the band thresholds as dashed lines.

    A group's chart passes the group's maximum points (18, 20, 12, …) and no thresholds.
    """
    left, right, top, bottom = 34.0, 10.0, 14.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    step = plot_w / n

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(total: float) -> float:
        return top + plot_h * (1 - max(0.0, min(maximum, total)) / maximum)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" font-family="{escape(FONT)}" font-size="11">',
        f'<rect x="{left:g}" y="{top:g}" width="{plot_w:g}" height="{plot_h:g}" fill="none" '
        'stroke="#000" stroke-width="0.6"/>',
    ]
    for tick in (maximum * q / 4 for q in range(5)):
        parts.append(
            f'<text x="{left - 4:g}" y="{y(tick) + 3:.2f}" text-anchor="end">'
            f"{format_number(tick, 0 if tick.is_integer() else 1)}</text>"
        )
    for threshold in thresholds:
        parts.append(
            f'<line x1="{left:g}" y1="{y(threshold):.2f}" x2="{left + plot_w:g}" y2="{y(threshold):.2f}" '
            'stroke="#888" stroke-width="0.5" stroke-dasharray="3,2"/>'
        )
    values = [p.total for p in points]
    for run in _segments(values):
        coords = " ".join(f"{x(i):.2f},{y(values[i]):.2f}" for i in run)  # type: ignore[arg-type]
        if len(run) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="#1f3f7a" stroke-width="1.4"/>')
    for i, point in enumerate(points):
        parts.append(
            f'<text x="{x(i):.2f}" y="{height - bottom + 13:.2f}" text-anchor="middle" font-size="10.5">'
            f"{escape(format_month_short(point.period))}</text>"
        )
        if point.total is None:
            continue
        parts.append(f'<circle cx="{x(i):.2f}" cy="{y(point.total):.2f}" r="2.2" fill="#1f3f7a"/>')
        label_y = y(point.total) - 6 if point.total < 0.9 * maximum else y(point.total) + 14
        parts.append(
            f'<text x="{x(i):.2f}" y="{label_y:.2f}" text-anchor="middle" font-size="10">'
            f"{escape(format_number(point.total, 1))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
