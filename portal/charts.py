"""A stacked bar chart as plain SVG geometry: no chart library, no network, works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass

from portal.selectors import HourlySeries

PALETTE = ["#2f5bd3", "#1f9d8b", "#d98a1f", "#a34fc2", "#d1495b", "#5c7a29", "#3d8fd1", "#8a6d3b"]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class StackedChart:
    width: int
    height: int  # the baseline: bars stand on it, x labels hang below it
    left: int  # the y axis; its labels sit to its left
    bars: list[Bar]
    legend: list[tuple[str, str, int]]  # name, color, total
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]  # y, label: 0, half and the top of the scale
    y_max: int  # the top of the scale, a round number at or above the peak
    peak: int  # the busiest hour's tokens


def axis_top(peak: int) -> int:
    """The smallest 2, 4, 10, 20, 40, 100… at or above `peak`: two round steps from zero."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if 2 * step * magnitude >= peak:
                return 2 * step * magnitude
        magnitude *= 10


def stacked_hourly_chart(
    data: HourlySeries, *, width: int = 720, height: int = 180, left: int = 40, top: int = 8
) -> StackedChart:
    hours = len(data.hours) or 1
    slot = (width - left) / hours
    totals = [sum(values[i] for values in data.series.values()) for i in range(len(data.hours))]
    peak = max(totals, default=0)
    y_max = axis_top(peak)
    scale = (height - top) / y_max
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(data.series)}
    bars: list[Bar] = []
    for i, hour in enumerate(data.hours):
        base = height
        for name, values in data.series.items():
            if not values[i]:
                continue
            h = values[i] * scale
            base -= h
            bars.append(
                Bar(
                    round(left + i * slot + 1, 1),
                    round(base, 1),
                    round(slot - 2, 1),
                    round(h, 1),
                    colors[name],
                    f"{hour:%H}:00 UTC · {name}: {values[i]} tokens",
                )
            )
    legend = [(name, colors[name], sum(values)) for name, values in data.series.items()]
    last = len(data.hours) - 1
    # Every third hour, and the current one (the last bar, still filling) named as such; a label
    # too close to it is left out so the two never overlap.
    x_labels = [
        (round(left + i * slot + slot / 2, 1), f"{hour:%H}h now" if i == last else f"{hour:%H}h")
        for i, hour in enumerate(data.hours)
        if i == last or (i % 3 == 0 and i < last - 2)
    ]
    y_ticks = [(round(height - value * scale, 1), str(value)) for value in (0, y_max // 2, y_max)]
    return StackedChart(width, height, left, bars, legend, x_labels, y_ticks, y_max, peak)
