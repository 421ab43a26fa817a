"""A stacked bar chart as plain SVG geometry: no chart library, no network, works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keys.selectors import KeyScheduleRow
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
    data: HourlySeries, *, width: int = 720, height: int = 180, left: int = 40, top: int = 8, right: int = 20
) -> StackedChart:
    hours = len(data.hours) or 1
    slot = (width - left - right) / hours
    totals = [sum(values[i] for values in data.series.values()) for i in range(len(data.hours))]
    peak = max(totals, default=0)
    y_max = axis_top(peak)
    scale = (height - top) / y_max
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(data.series)}
    bars: list[Bar] = []
    for i, hour in enumerate(data.hours):
        base: float = height
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


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    state: str  # a key state, for its colour
    title: str


@dataclass(frozen=True)
class KeyLane:
    y: float
    label: str
    segments: list[Segment]


@dataclass(frozen=True)
class KeyTimeline:
    width: int
    height: int
    left: int  # where the time axis starts; key labels sit to its left
    axis_y: float
    lanes: list[KeyLane]
    ticks: list[tuple[float, str]]  # x, date
    now_x: float


TICK_DAYS = (1, 2, 7, 14, 30, 60, 90, 180, 365)


def key_timeline(
    rows: list[KeyScheduleRow], *, now: datetime, width: int = 1000, left: int = 190
) -> KeyTimeline:
    """One lane per key, newest on top: staged, active and retired phases on a date axis, and now.

    Phases come from the schedule (`keys.selectors.key_schedule`), so a staged key shows when it
    will activate and an active one when it will retire, as now planned.
    """
    lane, top = 24, 18
    moments = [
        m for row in rows for m in (row.key.created_at, row.activates_at, row.retires_at, row.expires_at) if m
    ]
    start = min(moments + [now]).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(moments + [now]) + timedelta(hours=12)
    span = (end - start).total_seconds()
    plot = width - left - 10

    def x(moment: datetime) -> float:
        return round(left + plot * (moment - start).total_seconds() / span, 1)

    lanes = []
    for i, row in enumerate(rows):
        key, y = row.key, top + i * lane
        segments = []
        if key.state in ("staged", "active", "retired"):
            phases = [
                ("staged", key.created_at, row.activates_at or row.retires_at or end),
                ("active", row.activates_at, row.retires_at or end),
                ("retired", row.retires_at, row.expires_at or end),
            ]
            for state, since, until in phases:
                if since and until and until > since:
                    title = f"{key.kid} · {state} {since:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC"
                    segments.append(Segment(x(since), max(x(until) - x(since), 1.5), state, title))
        else:
            until = row.expires_at or key.created_at
            title = f"{key.kid} · {key.state}"
            segments.append(
                Segment(x(key.created_at), max(x(until) - x(key.created_at), 1.5), key.state, title)
            )
        lanes.append(KeyLane(y, f"{key.kid[:10]}… {key.state}", segments))

    days = span / 86400
    step = next((d for d in TICK_DAYS if days / d <= 8), TICK_DAYS[-1])
    ticks, day = [], start
    while day <= end:
        ticks.append((x(day), f"{day:%b %d}"))
        day += timedelta(days=step)
    axis_y = top + len(rows) * lane
    return KeyTimeline(width, int(axis_y + 22), left, axis_y, lanes, ticks, x(now))


@dataclass(frozen=True)
class GraphNode:
    pk: int
    name: str
    x: int  # the box's top left corner
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class GraphArrow:
    pk: int
    path: str  # an SVG path: a quadratic curve from the source box's side to the target's
    label_x: float
    label_y: float
    lines: list[str]  # the scope map, `upstream → downstream`, one line each
    enabled: bool
    title: str


@dataclass(frozen=True)
class CallGraph:
    width: int
    height: int
    nodes: list[GraphNode]
    arrows: list[GraphArrow]


def graph_layers(names: list[str], pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the longest path reaching it, once the edges closing a cycle are set aside.

    A depth-first walk in name order meets the same back edges every time, so the same registry
    always draws the same picture.
    """
    out: dict[str, list[str]] = {name: [] for name in names}
    for source, target in sorted(pairs):
        out[source].append(target)
    state: dict[str, int] = {}  # 1 on the walk's path, 2 done
    order: list[str] = []  # reverse topological order of the kept edges
    back: set[tuple[str, str]] = set()

    def walk(node: str) -> None:
        state[node] = 1
        for nxt in out[node]:
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                walk(nxt)
        state[node] = 2
        order.append(node)

    for name in sorted(names):
        if name not in state:
            walk(name)
    layer = {name: 0 for name in names}
    for node in reversed(order):
        for nxt in out[node]:
            if (node, nxt) not in back:
                layer[nxt] = max(layer[nxt], layer[node] + 1)
    return layer


def call_graph(
    services: list[tuple[int, str]],
    edges: list[tuple[int, str, str, dict[str, list[str]], bool]],
    *,
    box: tuple[int, int] = (150, 32),
    column: int = 340,
    row: int = 90,
    margin: int = 30,
) -> CallGraph:
    """Services as boxes in columns by call depth, edges as arrows labelled with their scope maps.

    `services`: (pk, name); `edges`: (pk, from name, to name, scope map, enabled). A call back to
    an earlier column (a cycle across services) bends the other way, so A→B and B→A both show.
    """
    names = [name for _, name in services]
    layer = graph_layers(names, [(source, target) for _, source, target, _, _ in edges])
    columns: dict[int, list[str]] = {}
    for name in sorted(names):
        columns.setdefault(layer[name], []).append(name)
    tallest = max((len(members) for members in columns.values()), default=0)
    height = max(tallest, 1) * row + margin
    width = max(len(columns), 1) * column - column + box[0] + 2 * margin + 60
    pk_of = dict((name, pk) for pk, name in services)
    place: dict[str, GraphNode] = {}
    for depth, members in columns.items():
        top = 20 + (height - len(members) * row) / 2 + (row - box[1]) / 2
        for i, name in enumerate(members):
            place[name] = GraphNode(
                pk_of[name], name, margin + depth * column, round(top + i * row), box[0], box[1]
            )
    arrows = []
    for pk, source, target, scope_map, enabled in edges:
        a, b = place[source], place[target]
        forward = a.x < b.x
        x1 = a.x + a.width if forward else a.x
        x2 = b.x - 4 if forward else b.x + b.width + 4  # stop short of the box: the arrowhead shows
        y1, y2 = a.y + a.height / 2, b.y + b.height / 2
        # Bend to the left of the direction of travel: opposite edges bend apart.
        dx, dy = x2 - x1, y2 - y1
        length = max((dx * dx + dy * dy) ** 0.5, 1.0)
        bend = 0.18 * length if forward else 0.3 * length
        cx, cy = (x1 + x2) / 2 + dy / length * bend, (y1 + y2) / 2 - dx / length * bend
        lines = [f"{up} → {down}" for up, downs in scope_map.items() for down in downs]
        arrows.append(
            GraphArrow(
                pk,
                f"M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}",
                round((x1 + 2 * cx + x2) / 4, 1),  # the curve's midpoint
                round((y1 + 2 * cy + y2) / 4 - 6 * (len(lines) - 1), 1),
                lines,
                enabled,
                f"{source} → {target}{'' if enabled else ' (disabled)'}: {', '.join(lines)}",
            )
        )
    return CallGraph(int(width), int(height + 40), list(place.values()), arrows)
