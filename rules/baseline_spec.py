"""The ``phiwatch.baseline`` block of a rule file, parsed and checked at load time, and how
its methods turn a history into a limit.

A fixed threshold either misses a slow harvester or buries the IT team under alerts about
emergency doctors; a baseline compares a user with their own history and with their peers
(same role and department). The block is declarative and small::

    phiwatch:
      baseline:
        metric: distinct patient.id per user.id per 1h   # or: count per …, sum FIELD per …
        peers: [user.roles, user.department]             # peer group; absent → no peer test
        history: 30d                                     # how far back both histories reach
        own: {method: mad, k: 6}                         # or {method: percentile, p: 99}
        peer: {method: percentile, p: 99, margin: 1.5}
        min_history: 7d      # cold start: before this much own history, no own test
        floor: 40            # never fire at or below this value

Everything here is checked when the rule loads, so a typo is a rule error naming the key,
never a silent no-alert at three in the morning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sensors.errors import RuleDefinitionError

MetricKind = Literal["count", "distinct", "sum"]
MethodKind = Literal["mad", "percentile"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_WORDS = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d", "week": "1w"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_METRIC = re.compile(
    r"^\s*(?:(count)(?:\s+of\s+events)?|(distinct|sum)\s+(\S+))\s+per\s+(.+?)\s+per\s+(\S+)\s*$"
)


class SpecError(RuleDefinitionError, ValueError):
    """A ``phiwatch`` block that cannot be used; the message names the key."""


def parse_duration(value: Any, key: str) -> float:
    """``30s``, ``10m``, ``1h``, ``30d``, ``2w``, ``hour``, ``day`` (or seconds) → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        text = _WORDS.get(value.strip().lower(), value)
        m = _DURATION.match(text)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise SpecError(f"'{key}' must be a duration such as 30s, 10m, 1h, 30d (got {value!r})")


def field_list(value: Any, key: str, *, empty: bool = False) -> tuple[str, ...]:
    """A field name or a list of them (``[user.id]``) → a tuple; ``empty`` allows ``[]``."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not (value or empty) or not all(
            isinstance(v, str) for v in value):
        raise SpecError(f"'{key}' must be a list of field names")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Method:
    """How a history becomes a limit: median + k·MAD, or a percentile; times ``margin``."""

    method: MethodKind
    k: float = 6.0
    p: float = 99.0
    margin: float = 1.0

    def label(self) -> str:
        """How a sentence names the baseline figure: ``p99`` or ``median``."""
        return f"p{self.p:g}" if self.method == "percentile" else "median"


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    """A parsed ``phiwatch.baseline`` block (see the module docstring)."""

    metric: MetricKind
    field: str | None
    group_by: tuple[str, ...]
    period: float
    peers: tuple[str, ...]
    history: float
    own: Method
    peer: Method
    min_history: float
    floor: float
    text: str
    #: With neither the own nor the peer test available (a new installation): ``floor``
    #: fires on the floor alone; ``learn`` stays silent until there is history to judge by.
    cold_start: str = "floor"


def _method(block: Any, key: str, default: Method) -> Method:
    if block is None:
        return default
    if not isinstance(block, Mapping):
        raise SpecError(f"'{key}' must be a mapping such as {{method: mad, k: 6}}")
    unknown = set(block) - {"method", "k", "p", "margin"}
    if unknown:
        raise SpecError(f"'{key}' has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    method = block.get("method", default.method)
    if method not in ("mad", "percentile"):
        raise SpecError(f"'{key}.method' must be 'mad' or 'percentile' (got {method!r})")
    nums: dict[str, float] = {}
    for name in ("k", "p", "margin"):
        v = block.get(name, getattr(default, name))
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise SpecError(f"'{key}.{name}' must be a number >= 0 (got {v!r})")
        nums[name] = float(v)
    if not 0 < nums["p"] <= 100:
        raise SpecError(f"'{key}.p' must be a percentile in (0, 100]")
    return Method(method, nums["k"], nums["p"], nums["margin"])


Limit = tuple[float, float]  # (the baseline figure, the limit above which it fires)


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile of sorted ``values``."""
    pos = (len(values) - 1) * p / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def limit(values: list[float], m: Method) -> Limit:
    """The baseline figure and the limit of ``values`` (any order) by method ``m``.

    A MAD of 0 (a user who always opens the same number of records) counts as 1, so one
    record more than usual never alerts on its own.
    """
    s = sorted(values)
    if m.method == "percentile":
        base = percentile(s, m.p)
        return base, base * m.margin
    med = percentile(s, 50.0)
    mad = percentile(sorted(abs(v - med) for v in s), 50.0)
    return med, (med + m.k * max(1.4826 * mad, 1.0)) * m.margin


BASELINE_KEYS = frozenset(
    {"metric", "peers", "history", "own", "peer", "min_history", "floor", "cold_start"})


def parse_baseline(block: Any) -> BaselineSpec:
    """Check and parse ``phiwatch.baseline``; raises ``SpecError`` naming the bad key."""
    if not isinstance(block, Mapping):
        raise SpecError("'phiwatch.baseline' must be a mapping with at least 'metric'")
    unknown = set(block) - BASELINE_KEYS
    if unknown:
        raise SpecError("'phiwatch.baseline' has unknown key(s): "
                        + ", ".join(sorted(map(str, unknown))))
    text = block.get("metric")
    m = _METRIC.match(text) if isinstance(text, str) else None
    if m is None:
        raise SpecError(
            "'phiwatch.baseline.metric' must read 'count per FIELD per PERIOD', 'distinct "
            f"FIELD per FIELD per PERIOD' or 'sum FIELD per FIELD per PERIOD' (got {text!r})")
    assert isinstance(text, str)
    metric: MetricKind = "count" if m.group(1) else m.group(2)  # type: ignore[assignment]
    group_by = tuple(g for g in re.split(r"[\s,]+|\band\b", m.group(4)) if g)
    period = parse_duration(m.group(5), "phiwatch.baseline.metric (period)")
    if period <= 0:
        raise SpecError("'phiwatch.baseline.metric' needs a period > 0")
    peers = field_list(block.get("peers", []), "phiwatch.baseline.peers", empty=True)
    history = parse_duration(block.get("history", "30d"), "phiwatch.baseline.history")
    if history < period:
        raise SpecError("'phiwatch.baseline.history' must be at least one period")
    floor = block.get("floor", 0)
    if not isinstance(floor, (int, float)) or isinstance(floor, bool):
        raise SpecError(f"'phiwatch.baseline.floor' must be a number (got {floor!r})")
    return BaselineSpec(
        metric=metric, field=m.group(3), group_by=group_by, period=period,
        peers=peers, history=history,
        own=_method(block.get("own"), "phiwatch.baseline.own", Method("mad", k=6.0)),
        peer=_method(block.get("peer"), "phiwatch.baseline.peer",
                     Method("percentile", p=99.0, margin=1.5)),
        min_history=parse_duration(block.get("min_history", "7d"),
                                   "phiwatch.baseline.min_history"),
        floor=float(floor), text=" ".join(text.split()),
        cold_start=_cold_start(block.get("cold_start", "floor")),
    )


def _cold_start(value: Any) -> str:
    if value not in ("floor", "learn"):
        raise SpecError(f"'phiwatch.baseline.cold_start' must be 'floor' or 'learn' "
                        f"(got {value!r})")
    return str(value)
