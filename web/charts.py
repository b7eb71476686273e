"""Server-rendered SVG charts for the placement page: no script, no CDN, readable without colour.

A chart is plain data (coordinates already computed, texts already translated) that the template
`wellbeing/_chart.html` draws as an <svg role="img"> with a <title> and <desc>, a labelled axis,
threshold lines with their names written on them, a marker *shape* per kind of point (so a
level is told by shape and by text, not by colour alone), and a data table as the alternative.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 30, 36  # room for the axis labels
MARKER_SIZE = 5.0


@dataclass(frozen=True)
class Datum:
    """One value on one day; `kind` picks the marker shape and class, `text` is what people read."""

    on: dt.date
    value: float
    text: str
    kind: str = "point"


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    path: str  # the marker's outline, an SVG path
    kind: str
    label: str  # the tooltip/title: day and value in words


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"  # the first and last day labels stay inside the drawing


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line (e.g. the yellow threshold) with its name written at the end."""

    y: float
    label: str
    kind: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass
class Chart:
    chart_id: str
    title: str
    description: str
    y_label: str
    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # polyline points "x,y x,y"
    markers: list[Marker] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)  # the data table: (day, value text)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, marker path, label)

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def plot_top(self) -> int:
        return TOP

    @property
    def center(self) -> tuple[int, int]:
        return (self.plot_left + self.plot_right) // 2, (self.plot_top + self.plot_bottom) // 2

    @property
    def is_empty(self) -> bool:
        return not self.rows


def marker_path(kind_shape: str, x: float, y: float, r: float = MARKER_SIZE) -> str:
    """An outline per shape: circle, triangle, square, diamond, cross. Shapes carry meaning, colour only helps."""
    if kind_shape == "triangle":
        h = r * 1.15
        return f"M{x:.1f},{y - h:.1f} L{x + h:.1f},{y + h * 0.8:.1f} L{x - h:.1f},{y + h * 0.8:.1f} Z"
    if kind_shape == "square":
        return f"M{x - r:.1f},{y - r:.1f} h{2 * r:.1f} v{2 * r:.1f} h{-2 * r:.1f} Z"
    if kind_shape == "diamond":
        h = r * 1.3
        return f"M{x:.1f},{y - h:.1f} L{x + h:.1f},{y:.1f} L{x:.1f},{y + h:.1f} L{x - h:.1f},{y:.1f} Z"
    if kind_shape == "cross":
        return (f"M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} "
                f"M{x - r:.1f},{y + r:.1f} L{x + r:.1f},{y - r:.1f}")
    return (f"M{x - r:.1f},{y:.1f} a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0 "
            f"a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0 Z")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _x_scale(days: Sequence[dt.date], left: float, right: float) -> Callable[[dt.date], float]:
    first, last = min(days), max(days)
    span = (last - first).days
    if span == 0:
        return lambda day: (left + right) / 2
    return lambda day: left + (right - left) * (day - first).days / span


def build_chart(
    *, chart_id: str, title: str, description: str, y_label: str, data: Sequence[Datum],
    day_label: Callable[[dt.date], str], shapes: dict[str, str] | None = None, y_max: float | None = None,
    rules: Sequence[tuple[float, str, str]] = (), bars: bool = False, legend: Sequence[tuple[str, str]] = (),
    x_tick_count: int = 5,
) -> Chart:
    """Lay out one series over time. `shapes` maps a datum's kind to a marker shape."""
    chart = Chart(chart_id=chart_id, title=title, description=description, y_label=y_label)
    shapes = shapes or {}
    data = sorted(data, key=lambda d: d.on)
    chart.rows = [(day_label(d.on), d.text) for d in data]
    chart.legend = [(kind, marker_path(shapes.get(kind, "circle"), 8, 8), label) for kind, label in legend]
    top = y_max if y_max is not None else _nice_max(max([d.value for d in data] + [v for v, _l, _k in rules] + [0]))
    left, right, y0, y1 = chart.plot_left, chart.plot_right, chart.plot_bottom, chart.plot_top
    if bars and data:
        left, right = left + 12, right - 12  # half a bar of room at each end

    def y_of(value: float) -> float:
        return y0 - (y0 - y1) * max(0.0, min(value, top)) / top

    chart.y_ticks = [Tick(y_of(top * i / 4), _number(top * i / 4)) for i in range(5)]
    chart.rules = [Rule(y_of(value), label, kind) for value, label, kind in rules if value <= top]
    if not data:
        return chart
    x_of = _x_scale([d.on for d in data], left, right)
    if bars:
        width = max(4.0, min(28.0, (right - left) / max(len(data), 1) * 0.6))
        chart.bars = [
            Bar(x_of(d.on) - width / 2, y_of(d.value), width, y0 - y_of(d.value), f"{day_label(d.on)}: {d.text}")
            for d in data
        ]
    else:
        chart.line = " ".join(f"{x_of(d.on):.1f},{y_of(d.value):.1f}" for d in data)
    chart.markers = [
        Marker(x_of(d.on), y_of(d.value), marker_path(shapes.get(d.kind, "circle"), x_of(d.on), y_of(d.value)),
               d.kind, f"{day_label(d.on)}: {d.text}")
        for d in data
    ]
    days = sorted({d.on for d in data})
    if len(days) <= x_tick_count:
        picked = days
    else:
        step = (len(days) - 1) / (x_tick_count - 1)
        picked = [days[round(i * step)] for i in range(x_tick_count)]
    chart.x_ticks = [
        Tick(x_of(day), day_label(day),
             "middle" if len(picked) == 1 else "start" if i == 0 else "end" if i == len(picked) - 1 else "middle")
        for i, day in enumerate(picked)
    ]
    return chart


def _number(value: float) -> str:
    from web.display import plain_number

    return plain_number(int(value) if float(value).is_integer() else round(value, 1))
