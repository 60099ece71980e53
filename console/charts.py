"""Charts as numbers for an SVG the template draws: no chart library, no script, nothing loaded from elsewhere.

A township intranet may have no internet, and an overview must print; so a chart is computed here as
rectangles and labels in a fixed view box, and ``templates/chart.html`` writes them out as inline SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 220
LEFT = 48  # room for the scale's numbers
BOTTOM = 24  # room for the day labels
TOP = 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # 0 or 1: which colour (awarded, redeemed)
    value: int
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (y, number) of the scale
    labels: tuple[tuple[float, str], ...]  # (x, day) under the bars, thinned so they do not overlap
    baseline: float
    empty: bool


def nice_top(value: int) -> int:
    """The scale's top: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 10
    power = 1
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def daily_bars(days: Sequence[tuple[str, int, int]]) -> Chart:
    """Two bars a day (awarded, redeemed) for ``(label, awarded, redeemed)`` rows."""
    top = nice_top(max((max(a, r) for _, a, r in days), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - 8
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.4)
    bars = []
    for i, (label, awarded, redeemed) in enumerate(days):
        for series, value in ((0, awarded), (1, redeemed)):
            h = plot_h * max(0, value) / top
            x = LEFT + i * slot + slot * 0.1 + series * bar_w
            bars.append(
                Bar(round(x, 1), round(TOP + plot_h - h, 1), round(bar_w, 1), round(h, 1), series, value, label)
            )
    every = max(1, len(days) // 10)
    labels = tuple((round(LEFT + i * slot + slot / 2, 1), d[0]) for i, d in enumerate(days) if i % every == 0)
    ticks = tuple((round(TOP + plot_h - plot_h * k / 4, 1), f"{top * k // 4:,}") for k in range(5))
    return Chart(WIDTH, HEIGHT, tuple(bars), ticks, labels, TOP + plot_h, all(b.value == 0 for b in bars))
