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
    height: int
    bars: list[Bar]
    legend: list[tuple[str, str, int]]  # name, color, total
    x_labels: list[tuple[float, str]]
    y_max: int


def stacked_hourly_chart(data: HourlySeries, *, width: int = 720, height: int = 180) -> StackedChart:
    hours = len(data.hours) or 1
    slot = width / hours
    totals = [sum(values[i] for values in data.series.values()) for i in range(len(data.hours))]
    y_max = max(totals, default=0) or 1
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(data.series)}
    bars: list[Bar] = []
    for i, hour in enumerate(data.hours):
        base = height
        for name, values in data.series.items():
            if not values[i]:
                continue
            h = height * values[i] / y_max
            base -= h
            bars.append(
                Bar(
                    round(i * slot + 1, 1),
                    round(base, 1),
                    round(slot - 2, 1),
                    round(h, 1),
                    colors[name],
                    f"{hour:%H}:00 UTC · {name}: {values[i]} tokens",
                )
            )
    legend = [(name, colors[name], sum(values)) for name, values in data.series.items()]
    x_labels = [
        (round(i * slot + slot / 2, 1), f"{hour:%H}h") for i, hour in enumerate(data.hours) if i % 3 == 0
    ]
    return StackedChart(width, height, bars, legend, x_labels, y_max)
