"""Charts as geometry: stacked bars computed here, drawn as SVG by ``_charts.html``.

Only numbers and labels leave this module; the template escapes the labels like any
other text, so a rule id or hospital name from a log cannot become markup. Colours are
CSS classes of the console's stylesheet (``s0`` … ``s6`` for series, ``a0`` … ``a4``
for ages): no inline style, as the CSP requires.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

#: Distinct colours; the last one is "the rest".
SERIES = 7


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    #: CSS class of its colour: ``s0``… for series, ``a0``… for ages (light to dark).
    cls: str
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Legend:
    cls: str
    label: str
    total: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: list[Bar] = field(default_factory=list)
    xticks: list[Tick] = field(default_factory=list)
    yticks: list[Tick] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)
    total: int = 0


def nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


def _series(totals: dict[str, int], other: str) -> tuple[dict[str, int], list[Legend]]:
    """Series index per key: the biggest ``SERIES - 1`` keys, the rest together."""
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    keep = ranked if len(ranked) <= SERIES else ranked[: SERIES - 1]
    index = {k: i for i, k in enumerate(keep)}
    legend = [Legend(f"s{i}", k, totals[k]) for i, k in enumerate(keep)]
    rest = [k for k in ranked if k not in index]
    for k in rest:
        index[k] = SERIES - 1
    if rest:
        legend.append(Legend(f"s{SERIES - 1}", other, sum(totals[k] for k in rest)))
    return index, legend


def day_stacks(days: Sequence[date], counts: Iterable[tuple[date, str, int]], *,
               day_label: Callable[[date], str], other: str,
               width: int = 720, height: int = 240) -> Chart:
    """One stacked column per day, one colour per key (rule, hospital)."""
    per_day: dict[date, dict[str, int]] = {d: {} for d in days}
    totals: dict[str, int] = {}
    for day, key, n in counts:
        if day in per_day and n > 0:
            per_day[day][key] = per_day[day].get(key, 0) + n
            totals[key] = totals.get(key, 0) + n
    index, legend = _series(totals, other)
    names = {int(lab.cls[1:]): lab.label for lab in legend}
    left, top, right, bottom = 44.0, 10.0, width - 8.0, height - 28.0
    top_value = nice_ceiling(max((sum(v.values()) for v in per_day.values()), default=0))
    scale = (bottom - top) / top_value
    slot = (right - left) / max(len(days), 1)
    bars: list[Bar] = []
    xticks: list[Tick] = []
    every = max(1, math.ceil(len(days) / 10))
    for i, day in enumerate(days):
        x = left + i * slot + slot * 0.15
        y = bottom
        stacked: dict[int, int] = {}
        for key, n in per_day[day].items():
            stacked[index[key]] = stacked.get(index[key], 0) + n
        for s in sorted(stacked):
            h = stacked[s] * scale
            y -= h
            bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.7, 1), round(h, 1),
                            f"s{s}", f"{day_label(day)} · {names[s]}: {stacked[s]}"))
        if i % every == 0:
            xticks.append(Tick(round(left + i * slot + slot / 2, 1), day_label(day)))
    yticks = [Tick(round(bottom - v * scale, 1), str(v))
              for v in (top_value * k // 4 for k in range(5))]
    return Chart(width, height, left, top, right, bottom, bars, xticks, yticks, legend,
                 sum(totals.values()))


def row_stacks(rows: Sequence[tuple[str, Sequence[int]]], segments: Sequence[str], *,
               width: int = 960, row_height: int = 30) -> Chart:
    """One horizontal stacked bar per row (a status), one colour per segment (an age)."""
    left, top = 170.0, 6.0
    right = width - 60.0
    height = int(top + row_height * max(len(rows), 1) + 6)
    top_value = nice_ceiling(max((sum(r) for _, r in rows), default=0))
    scale = (right - left) / top_value
    bars: list[Bar] = []
    yticks: list[Tick] = []
    totals = [0] * len(segments)
    for i, (label, values) in enumerate(rows):
        y = top + i * row_height
        x = left
        for s, n in enumerate(values):
            if n <= 0:
                continue
            totals[s] += n
            w = n * scale
            bars.append(Bar(round(x, 1), round(y + 4, 1), round(w, 1), row_height - 10,
                            f"a{s}", f"{label} · {segments[s]}: {n}"))
            x += w
        yticks.append(Tick(round(y + row_height / 2 + 4, 1), f"{label} ({sum(values)})"))
    legend = [Legend(f"a{s}", name, totals[s]) for s, name in enumerate(segments)]
    return Chart(width, height, left, top, right, height - 6.0, bars, [], yticks, legend,
                 sum(totals))
