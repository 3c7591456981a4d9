"""Beaconing: connections from one host to one outside address at regular intervals.

Implants call home on a timer (Cobalt Strike's 60 s sleep, AgentTesla's polling); people
do not browse like clocks. A ``phiwatch.beacon`` rule watches the start times of its
matching events (outbound flows) per group and fires when the last ``min_connections``
of them are evenly spaced::

    phiwatch:
      beacon:
        by: [source.ip, destination.ip]   # one host calling one address
        min_connections: 20               # the last 20 connections (19 intervals) …
        max_jitter: 0.1                   # … deviate from their median interval by at
                                          # most 10 % (median absolute deviation / median)
        interval: [10s, 2h]               # and that median lies in this range

The median absolute deviation ignores a few missed or doubled beats, so sleep jitter of a
few percent and the odd lost connection still read as a beacon, while bursts of browsing
(seconds apart, then minutes) do not. When it first holds, the alert is raised
(``final: false``; id from rule, group and the first connection of the regular run); later
connections join while they keep coming, and the final version follows once none came for
three median intervals. Memory: ``min_connections`` start times per group; groups silent
for the longest interval are forgotten at the sweep.
"""

from __future__ import annotations

from bisect import insort
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from rules.alert import Alert
from rules.baseline_spec import SpecError, field_list, parse_duration
from rules.explain import Entry, Numbers, episode_alert
from rules.limits import DEFAULT_LIMIT, LimitGuard
from rules.model import DetectionRule
from rules.state import Adder, entry_in, entry_out, key_text
from rules.stream import Clock, StreamExtension, register
from sensors.event import Event

BEACON_KEYS = frozenset({"by", "min_connections", "max_jitter", "interval"})
#: A beacon ends when no connection came for this many median intervals.
QUIET_BEATS = 3.0


@dataclass(frozen=True, slots=True)
class BeaconSpec:
    """A parsed ``phiwatch.beacon`` block (see the module docstring)."""

    by: tuple[str, ...]
    min_connections: int
    max_jitter: float
    min_interval: float
    max_interval: float


def parse_beacon(block: Any) -> BeaconSpec:
    """Check and parse ``phiwatch.beacon``; raises ``SpecError`` naming the bad key."""
    if not isinstance(block, Mapping):
        raise SpecError("'phiwatch.beacon' must be a mapping")
    unknown = set(block) - BEACON_KEYS
    if unknown:
        raise SpecError("'phiwatch.beacon' has unknown key(s): "
                        + ", ".join(sorted(map(str, unknown))))
    by = field_list(block.get("by", ["source.ip", "destination.ip"]), "phiwatch.beacon.by")
    n = block.get("min_connections", 20)
    if not isinstance(n, int) or isinstance(n, bool) or n < 4:
        raise SpecError(f"'phiwatch.beacon.min_connections' must be a whole number >= 4 "
                        f"(got {n!r})")
    jitter = block.get("max_jitter", 0.1)
    if not isinstance(jitter, (int, float)) or isinstance(jitter, bool) or not 0 < jitter < 1:
        raise SpecError(f"'phiwatch.beacon.max_jitter' must be a fraction between 0 and 1 "
                        f"(got {jitter!r})")
    span = block.get("interval", ["10s", "2h"])
    if not isinstance(span, list) or len(span) != 2:
        raise SpecError("'phiwatch.beacon.interval' must be [shortest, longest], "
                        "e.g. [10s, 2h]")
    lo = parse_duration(span[0], "phiwatch.beacon.interval")
    hi = parse_duration(span[1], "phiwatch.beacon.interval")
    if not 0 < lo < hi:
        raise SpecError("'phiwatch.beacon.interval' must be two durations, shortest first")
    return BeaconSpec(by, n, float(jitter), lo, hi)


def regularity(times: list[float]) -> tuple[float, float]:
    """The median interval between sorted ``times`` and its jitter (MAD / median)."""
    gaps = sorted(b - a for a, b in pairwise(times))
    n = len(gaps)
    med = (gaps[n // 2] + gaps[(n - 1) // 2]) / 2
    devs = sorted(abs(g - med) for g in gaps)
    mad = (devs[n // 2] + devs[(n - 1) // 2]) / 2
    return med, (mad / med if med > 0 else float("inf"))


class Caller:
    """One (host, address) pair: its recent connection starts, or its beacon episode."""

    __slots__ = ("count", "fired", "first", "interval", "jitter", "last", "last_fields",
                 "recent", "sample", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.recent: list[Entry] = []
        self.fired = False
        self.count = 0
        self.interval = 0.0
        self.jitter = 0.0
        self.first: Entry | None = None
        self.last: Entry | None = None
        self.last_fields: dict[str, Any] = {}
        self.sample: list[Entry] = []


class BeaconState:
    """The callers of one ``phiwatch.beacon`` rule."""

    def __init__(self, rule: DetectionRule, sample_size: int) -> None:
        assert rule.stream is not None
        self.rule = rule
        self.spec: BeaconSpec = rule.stream.spec
        self.sample_size = sample_size
        self.groups: OrderedDict[tuple[str, ...], Caller] = OrderedDict()
        self.guard = LimitGuard(rule.id, rule.title, DEFAULT_LIMIT)
        self.progress: Callable[[Alert], None] | None = None
        self.opened = 0
        self.closed = 0
        self.evicted = 0

    def adder(self, base: DetectionRule) -> Adder:
        spec = self.spec
        names, need = spec.by, spec.min_connections
        lo, hi, jitter_max = spec.min_interval, spec.max_interval, spec.max_jitter
        keep_first = self.rule.spec.keep_first
        sample_size = self.sample_size
        groups = self.groups

        def add(event: Event, out: list[Alert]) -> None:
            fields = event.fields
            vals = [fields.get(n) for n in names]
            if None in vals:
                return
            key = tuple(map(key_text, vals))
            c = groups.get(key)
            if c is None:
                if len(groups) >= self.guard.limit:
                    self._make_room(event, out)
                c = groups[key] = Caller(key)
            else:
                groups.move_to_end(key)
            epoch = event.epoch
            entry: Entry = (epoch, None, event.ref, event.id,
                            tuple(map(fields.get, keep_first)) if keep_first else ())
            if c.fired:
                assert c.last is not None
                if epoch <= c.last[0] + QUIET_BEATS * c.interval:
                    c.count += 1
                    if epoch >= c.last[0]:
                        c.last, c.last_fields = entry, fields
                    if len(c.sample) < sample_size:
                        c.sample.append(entry)
                    if self.progress is not None:
                        self.progress(self._alert(c, final=False))
                    return
                self._end(c, out)
                c = groups[key] = Caller(key)
            recent = c.recent
            if not recent or epoch >= recent[-1][0]:
                recent.append(entry)
            else:
                insort(recent, entry, key=lambda e: e[0])
            if len(recent) > need:
                del recent[0]
            if len(recent) < need:
                return
            interval, jitter = regularity([e[0] for e in recent])
            if not lo <= interval <= hi or jitter > jitter_max:
                return
            c.fired, c.interval, c.jitter, c.count = True, interval, jitter, len(recent)
            c.first, c.last, c.last_fields = recent[0], recent[-1], fields
            c.sample = recent[:sample_size]
            c.recent = []
            self.opened += 1
            out.append(self._alert(c, final=False))

        return add

    def _make_room(self, event: Event, out: list[Alert]) -> None:
        def evict(key: tuple[str, ...], c: Caller) -> None:
            if c.fired:
                self._end(c, out)
            else:
                self.evicted += 1

        self.guard.make_room(self.groups, lambda c: len(c.recent), lambda c: c.fired, evict,
                             event.epoch, event.fields.get("organization.id"), out)

    def _end(self, c: Caller, out: list[Alert]) -> None:
        self.closed += 1
        out.append(self._alert(c, final=True))

    def _alert(self, c: Caller, *, final: bool) -> Alert:
        spec = self.spec
        assert c.first is not None and c.last is not None
        numbers = Numbers(
            kind="beacon", op="lte", threshold=spec.max_jitter, timespan=c.interval,
            field=None, event_count=c.count, value_count=None, value_sum=None,
            extra={"interval": round(c.interval) if c.interval >= 10 else round(c.interval, 1),
                   "jitter": f"{c.jitter:.1%}", "connections": c.count,
                   "max_jitter": f"{spec.max_jitter:.0%}"},
        )
        group = dict(zip(spec.by, c.values, strict=True))
        return episode_alert(self.rule.spec, numbers, group, c.first, c.last, c.last_fields,
                             c.sample, revision=c.count + 1 if final else c.count,
                             final=final)

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        """End beacons gone quiet; forget pairs silent for longer than the longest
        interval (they cannot be on a regular beat any more)."""
        hi = self.spec.max_interval
        dead: list[tuple[str, ...]] = []
        for key, c in self.groups.items():
            if c.fired:
                assert c.last is not None
                gone = c.last[0] + QUIET_BEATS * c.interval < watermark
            else:
                gone = not c.recent or c.recent[-1][0] + hi < watermark
            if gone:
                dead.append(key)
            elif not full:
                break
        for key in dead:
            c = self.groups.pop(key)
            if c.fired:
                self._end(c, out)
            else:
                self.evicted += 1

    def open_alerts(self) -> list[Alert]:
        return [self._alert(c, final=False) for c in self.groups.values() if c.fired]

    def describe(self) -> list[str]:
        """One line per caller, for ``phiwatch rules test``."""
        lines: list[str] = []
        for c in self.groups.values():
            if c.fired:
                lines.append(f"{', '.join(c.values)}: beaconing every {c.interval:.1f} s "
                             f"({c.count} connections)")
            else:
                lines.append(f"{', '.join(c.values)}: {len(c.recent)} recent connection(s), "
                             f"needs {self.spec.min_connections}")
        return lines

    def snapshot(self) -> dict[str, Any]:
        keep = self.rule.spec.keep
        groups = []
        for c in self.groups.values():
            d: dict[str, Any] = {"key": list(c.values),
                                 "recent": [entry_out(e) for e in c.recent]}
            if c.fired:
                assert c.first is not None and c.last is not None
                d["episode"] = [c.count, c.interval, c.jitter, entry_out(c.first),
                                entry_out(c.last),
                                {f: v for f in keep if (v := c.last_fields.get(f)) is not None},
                                [entry_out(e) for e in c.sample]]
            groups.append(d)
        return {"groups": groups, "opened": self.opened, "closed": self.closed,
                "evicted": self.evicted}

    def restore(self, d: dict[str, Any]) -> None:
        self.opened, self.closed = d["opened"], d["closed"]
        self.evicted = d.get("evicted", 0)
        self.groups.clear()
        for g in d["groups"]:
            c = self.groups[tuple(g["key"])] = Caller(tuple(g["key"]))
            c.recent = [entry_in(x) for x in g["recent"]]
            if "episode" in g:
                count, interval, jitter, first, last, fields, sample = g["episode"]
                c.fired, c.count, c.interval, c.jitter = True, count, interval, jitter
                c.first, c.last, c.last_fields = entry_in(first), entry_in(last), dict(fields)
                c.sample = [entry_in(x) for x in sample]


def _state(rule: DetectionRule, sample_size: int, clock: Clock) -> BeaconState:
    return BeaconState(rule, sample_size)


register(StreamExtension(
    key="beacon",
    parse=parse_beacon,
    state=_state,
    sentence=("{connections} connections for {group} every {interval} s with {jitter} "
              "jitter over {duration}; limit {max_jitter}"),
    placeholders=frozenset({"interval", "jitter", "connections", "max_jitter"}),
))
