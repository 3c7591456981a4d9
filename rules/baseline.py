"""Baselines and peer groups: is this user far above their own history *and* their peers?

A rule with a ``phiwatch.baseline`` block (``rules.baseline_spec``) measures a metric per
user (its ``per`` fields) per period of event time — distinct patients per hour, records
exported per day. Periods are aligned on the epoch (UTC) and close when the watermark
passes their end; a closed period's figure goes into the user's own history and into a
sample of their peer group (the values of the ``peers`` fields, e.g. role and department).

While a period is open, each matching event updates the user's running figure and compares
it with limits computed from *closed* periods only. It fires (once per user and period,
final at the period's close, like a correlation episode) when the figure is

- at least ``floor``, and
- above the own limit (median + k·MAD, or a percentile; times ``margin``) when the user
  has ``min_history`` of history — before that (cold start) there is no own test —, and
- above the peer limit when the peer group has enough samples; no peer fields, no test.

With neither test available only a positive ``floor`` can fire it. Limits depend only on
closed periods and closing depends only on the watermark, so a replay, a live run and a
run restored from a snapshot decide alike.

Memory is bounded: a user's history holds at most ``history / period`` figures (only
periods in which the user was active), a peer group keeps per day the ``PEER_SAMPLE``
user-periods with the smallest hash of (user, period) — a deterministic sample, the same
in every run — for the days of ``history``, and users without activity in ``history`` are
forgotten.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import insort
from collections.abc import Callable
from typing import Any

from rules.alert import Alert
from rules.baseline_spec import BaselineSpec, Limit, limit, parse_baseline, percentile
from rules.explain import Entry, Numbers, episode_alert, human_duration, show, stamp
from rules.limits import DEFAULT_LIMIT, LimitGuard
from rules.model import DetectionRule
from rules.state import Adder, counted, entry_in, entry_out, key_text
from rules.stream import StreamExtension, register
from sensors.event import Event

#: User-periods kept per peer group and day.
PEER_SAMPLE = 64
#: Fewer peer samples than this: no peer test.
MIN_PEER_SAMPLES = 10
#: Fewer own figures than this (even after ``min_history``): no own test.
MIN_OWN_FIGURES = 3
_DAY = 86400.0
_NO_CTX: tuple[Any, ...] = ()


class Period:
    """One user's running figure in one period."""

    __slots__ = ("count", "distinct", "fired", "first", "last", "last_fields", "sample",
                 "total", "values", "verdict")

    def __init__(self, values: tuple[str, ...], first: Entry) -> None:
        self.values = values
        self.count = 0
        self.distinct: set[Any] = set()
        self.total = 0.0
        self.first = first
        self.last = first
        self.last_fields: dict[str, Any] = {}
        self.sample: list[Entry] = []
        self.fired = False
        #: The numbers it fired with: later versions report the same limits.
        self.verdict: dict[str, Any] = {}


class History:
    """One user's figures of past periods (starts and values, oldest first)."""

    __slots__ = ("first_seen", "limit", "starts", "values")

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        self.starts = array("d")
        self.values = array("d")
        #: ``limit()`` of ``values``, until they change (judged on every event above floor).
        self.limit: Limit | None = None


class BaselineState:
    """The periods, histories and peer samples of one baseline rule."""

    def __init__(self, rule: DetectionRule, sample_size: int,
                 clock: Callable[[], float]) -> None:
        assert rule.stream is not None
        self.rule = rule
        self.spec: BaselineSpec = rule.stream.spec
        self.sample_size = sample_size
        self.clock = clock
        #: Period start → user key → running figure.
        self.pending: dict[float, dict[tuple[str, ...], Period]] = {}
        self.users: dict[tuple[str, ...], History] = {}
        #: Peer group → day → sorted [(hash, figure)], at most ``PEER_SAMPLE`` long.
        self.peers: dict[tuple[str, ...], dict[int, list[tuple[int, float]]]] = {}
        #: Peer group → (oldest day, limit and sample size): until the sample changes.
        self._peer_cache: dict[tuple[str, ...], tuple[int, tuple[Limit, int] | None]] = {}
        self.next_close = float("inf")
        #: Event time of the first event this rule saw. A period that began before it
        #: was only partly observed (phiwatch started mid-period): its low figures would
        #: drag every baseline down, so it is not recorded.
        self.started: float | None = None
        self.opened = 0
        self.closed = 0
        self.evicted = 0
        self.guard = LimitGuard(rule.id, rule.title, DEFAULT_LIMIT)
        #: Set by the engine when rules over alerts read this rule's: the current version
        #: of a fired period after each event that grows it (never stored as an alert).
        self.progress: Callable[[Alert], None] | None = None
        self.groups = self.users  # for the engine's statistics

    # -- streaming ---------------------------------------------------------------------

    def adder(self, base: DetectionRule) -> Adder:
        """The function counting an event matched by the rule into its user's period."""
        spec = self.spec
        names, field, metric = spec.group_by, spec.field, spec.metric
        period, floor = spec.period, spec.floor
        keep_first = self.rule.spec.keep_first
        sample_size = self.sample_size
        pending, clock = self.pending, self.clock
        single = names[0] if len(names) == 1 else None  # hot path: read directly
        counting, distinct = metric == "count", metric == "distinct"

        def add(event: Event, out: list[Alert]) -> None:
            if self.started is None:
                self.started = event.epoch
            if clock() >= self.next_close:
                self.close(clock(), out)
            fields = event.fields
            key: tuple[str, ...]
            if single is not None:
                v = fields.get(single)
                if v is None:
                    return
                key = (v if v.__class__ is str else key_text(v),)
            else:
                vals = [fields.get(n) for n in names]
                if None in vals:
                    return
                key = tuple(map(key_text, vals))
            value: Any = None
            if metric != "count":
                assert field is not None
                raw = fields.get(field)
                if raw is None:
                    return
                value = counted(raw) if metric == "distinct" else _number(raw)
                if value is None:
                    return
            epoch = event.epoch
            start = epoch - epoch % period
            entry: Entry = (epoch, value, event.ref, event.id,
                            tuple(map(fields.get, keep_first)) if keep_first else _NO_CTX)
            bucket = pending.get(start)
            if bucket is None:
                bucket = pending[start] = {}
                self.next_close = min(self.next_close, start + period)
            p = bucket.get(key)
            if p is None:
                if len(bucket) >= self.guard.limit:
                    self.guard.make_room(bucket, self._weight, lambda p: p.fired,
                                         self._drop(out, start), epoch,
                                         fields.get("organization.id"), out)
                p = bucket[key] = Period(key, entry)
            p.count += 1
            if metric == "distinct":
                p.distinct.add(value)
            elif metric == "sum":
                p.total += value
            if epoch >= p.last[0]:
                p.last, p.last_fields = entry, fields
            if len(p.sample) < sample_size:
                p.sample.append(entry)
            if p.fired:
                if self.progress is not None:  # rules over alerts follow the period
                    self.progress(self._alert(p, start, {**p.verdict, "value": self.figure(p)},
                                              final=False))
                return
            if epoch < p.first[0]:
                p.first = entry
            figure = float(p.count if counting else len(p.distinct) if distinct  # ``figure``
                           else p.total)
            if figure < floor or figure <= 0:
                return
            verdict = self.judge(p, start, figure)
            if verdict is not None:
                p.fired, p.verdict = True, verdict
                self.opened += 1
                out.append(self._alert(p, start, verdict, final=False))

        return add

    def _weight(self, p: Period) -> int:
        return p.count

    def _drop(self, out: list[Alert], start: float) -> Callable[[tuple[str, ...], Period], None]:
        """What evicting a period does: a fired one is closed (its final alert goes out);
        a quiet one is forgotten, and its figure is not recorded in the user's history."""
        def drop(key: tuple[str, ...], p: Period) -> None:
            if p.fired:
                self.closed += 1
                out.append(self._alert(p, start, {**p.verdict, "value": self.figure(p)},
                                       final=True))
            else:
                self.evicted += 1

        return drop

    def figure(self, p: Period) -> float:
        m = self.spec.metric
        return float(p.count if m == "count" else len(p.distinct) if m == "distinct"
                     else p.total)

    def peer_key(self, p: Period) -> tuple[str, ...] | None:
        vals = [p.last_fields.get(n) for n in self.spec.peers]
        if not vals or None in vals:
            return None
        return tuple(map(key_text, vals))

    def own_limit(self, p: Period, start: float) -> tuple[Limit, float] | None:
        """The own baseline and limit, and the days of history behind it (or cold start)."""
        h = self.users.get(p.values)
        if h is None or start - h.first_seen < self.spec.min_history:
            return None
        self._expire(h, start)
        if len(h.values) < MIN_OWN_FIGURES:
            return None
        days = min(start - h.first_seen, self.spec.history) / _DAY
        if h.limit is None:
            h.limit = limit(list(h.values), self.spec.own)
        return h.limit, days

    def peer_limit(self, peer: tuple[str, ...] | None, start: float) -> tuple[Limit, int] | None:
        if peer is None:
            return None
        oldest = int((start - self.spec.history) // _DAY)
        cached = self._peer_cache.get(peer)
        if cached is not None and cached[0] == oldest:
            return cached[1]
        days = self.peers.get(peer, {})
        figures = [v for d, sample in days.items() if d >= oldest for _, v in sample]
        result = (None if len(figures) < MIN_PEER_SAMPLES
                  else (limit(figures, self.spec.peer), len(figures)))
        self._peer_cache[peer] = (oldest, result)
        return result

    def judge(self, p: Period, start: float, figure: float) -> dict[str, Any] | None:
        """The numbers of an alert if ``figure`` exceeds what applies, else ``None``."""
        spec = self.spec
        own = self.own_limit(p, start)
        peer_key = self.peer_key(p)
        peer = self.peer_limit(peer_key, start)
        if own is None and peer is None:
            if spec.floor <= 0 or spec.cold_start == "learn":
                return None
        elif (own is not None and figure <= own[0][1]) or (
                peer is not None and figure <= peer[0][1]):
            return None
        return self.numbers(figure, own, peer, peer_key)

    def numbers(self, figure: float, own: tuple[Limit, float] | None,
                peer: tuple[Limit, int] | None, peer_key: tuple[str, ...] | None,
                ) -> dict[str, Any]:
        spec = self.spec
        group = ", ".join(peer_key) if peer_key else None
        parts = []
        if own is not None:
            parts.append(f"own {own[1]:.0f}-day {spec.own.label()} is {_num(own[0][0])}")
        else:
            parts.append("no own history yet")
        if peer is not None:
            parts.append(f"{group} {spec.peer.label()} is {_num(peer[0][0])}")
        elif peer_key is None:
            parts.append("no peer group")
        else:
            parts.append(f"too few peers in {group}")
        return {
            "value": figure, "metric": spec.text, "period": human_duration(spec.period),
            "own_baseline": own[0][0] if own else None,
            "own_threshold": own[0][1] if own else None,
            "own_method": spec.own.label(), "history_days": round(own[1]) if own else 0,
            "peer_baseline": peer[0][0] if peer else None,
            "peer_threshold": peer[0][1] if peer else None,
            "peer_method": spec.peer.label(), "peer_group": group,
            "peer_samples": peer[1] if peer else 0, "floor": spec.floor,
            "comparison": "; ".join(parts),
        }

    def _alert(self, p: Period, start: float, extra: dict[str, Any], *, final: bool) -> Alert:
        spec = self.spec
        numbers = Numbers(
            kind="baseline", op="gt", threshold=float(extra["own_threshold"] or spec.floor),
            timespan=spec.period, field=spec.field, event_count=p.count,
            value_count=len(p.distinct) if spec.metric == "distinct" else None,
            value_sum=p.total if spec.metric == "sum" else None, extra=extra,
        )
        group = dict(zip(spec.group_by, p.values, strict=True))
        return episode_alert(self.rule.spec, numbers, group, p.first, p.last, p.last_fields,
                             p.sample, revision=p.count + 1 if final else p.count,
                             final=final)

    # -- time ----------------------------------------------------------------------------

    def close(self, watermark: float, out: list[Alert]) -> None:
        """Close the periods the watermark has passed: final alerts, then histories."""
        period = self.spec.period
        for start in sorted(s for s in self.pending if s + period <= watermark):
            bucket = self.pending.pop(start)
            for p in bucket.values():  # alerts first: all judged against the same history
                if p.fired:
                    self.closed += 1
                    extra = {**p.verdict, "value": self.figure(p)}
                    out.append(self._alert(p, start, extra, final=True))
            if self.started is not None and start >= self.started:
                for key, p in bucket.items():
                    self._record(key, start, self.figure(p), self.peer_key(p))
            self._forget(start)
        self.next_close = min(self.pending, default=float("inf")) + period

    def _record(self, key: tuple[str, ...], start: float, figure: float,
                peer: tuple[str, ...] | None) -> None:
        h = self.users.get(key)
        if h is None:
            if len(self.users) >= self.guard.limit:  # the shortest histories go first
                self.guard.make_room(self.users, lambda h: len(h.values), lambda h: False,
                                     self._forget_user, start, None, [])
            h = self.users[key] = History(start)
        h.starts.append(start)
        h.values.append(figure)
        h.limit = None
        self._expire(h, start + self.spec.period)
        if peer is not None:
            self._peer_cache.pop(peer, None)
            days = self.peers.setdefault(peer, {})
            sample = days.setdefault(int(start // _DAY), [])
            tag = zlib.crc32("\x1f".join((*key, repr(start))).encode())
            if len(sample) < PEER_SAMPLE or tag < sample[-1][0]:
                insort(sample, (tag, figure))
                del sample[PEER_SAMPLE:]

    def _forget_user(self, key: tuple[str, ...], h: History) -> None:
        self.evicted += 1

    def _expire(self, h: History, now: float) -> None:
        cutoff = now - self.spec.history
        n = 0
        while n < len(h.starts) and h.starts[n] < cutoff:
            n += 1
        if n:
            del h.starts[:n]
            del h.values[:n]
            h.limit = None

    def _forget(self, now: float) -> None:
        """Drop users and peer days older than the history (bounded memory)."""
        cutoff = now - self.spec.history
        for key in [k for k, h in self.users.items() if not h.starts or h.starts[-1] < cutoff]:
            del self.users[key]
        oldest = int(cutoff // _DAY)
        self._peer_cache.clear()
        for peer, days in list(self.peers.items()):
            for d in [d for d in days if d < oldest]:
                del days[d]
            if not days:
                del self.peers[peer]

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        if watermark >= self.next_close:
            self.close(watermark, out)

    def open_alerts(self) -> list[Alert]:
        """The current version of every fired period still open."""
        out = []
        for start, bucket in self.pending.items():
            for p in bucket.values():
                if p.fired:
                    extra = {**p.verdict, "value": self.figure(p)}
                    out.append(self._alert(p, start, extra, final=False))
        return out

    # -- snapshot ------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """Histories, open periods and peer samples, for ``phiwatch rules test``."""
        spec = self.spec
        lines: list[str] = []
        for key, h in self.users.items():
            lines.append(f"{', '.join(key)}: {len(h.values)} past period(s) of "
                         f"{human_duration(spec.period)}, last {show(h.values[-1])}"
                         if len(h.values) else f"{', '.join(key)}: no past period")
        for start, bucket in sorted(self.pending.items()):
            for key, p in bucket.items():
                status = "fired" if p.fired else "below its limits"
                lines.append(f"{', '.join(key)}: open period from "
                             f"{stamp(start)}: {show(self.figure(p))} ({status})")
        for peer, days in self.peers.items():
            n = sum(len(s) for s in days.values())
            lines.append(f"peers {', '.join(peer)}: {n} sampled period(s)")
        return lines

    def snapshot(self) -> dict[str, Any]:
        keep = tuple(dict.fromkeys((*self.rule.spec.keep, *self.spec.peers)))
        pending = [[start, [[list(k), p.count, sorted(p.distinct, key=repr), p.total,
                             entry_out(p.first), entry_out(p.last),
                             {f: v for f in keep if (v := p.last_fields.get(f)) is not None},
                             [entry_out(e) for e in p.sample], p.fired, p.verdict]
                            for k, p in bucket.items()]]
                   for start, bucket in self.pending.items()]
        users = [[list(k), h.first_seen, list(h.starts), list(h.values)]
                 for k, h in self.users.items()]
        peers = [[list(k), [[d, [list(x) for x in s]] for d, s in days.items()]]
                 for k, days in self.peers.items()]
        return {"pending": pending, "users": users, "peers": peers,
                "opened": self.opened, "closed": self.closed, "started": self.started}

    def restore(self, d: dict[str, Any]) -> None:
        self.opened, self.closed = d["opened"], d["closed"]
        self.started = d.get("started")
        self.pending.clear()
        for start, bucket in d["pending"]:
            b = self.pending[start] = {}
            for (key, count, distinct, total, first, last, fields, sample, fired,
                 verdict) in bucket:
                p = b[tuple(key)] = Period(tuple(key), entry_in(first))
                p.count, p.distinct, p.total, p.fired = count, set(distinct), total, fired
                p.last, p.last_fields = entry_in(last), dict(fields)
                p.sample = [entry_in(x) for x in sample]
                p.verdict = dict(verdict)
        self.users.clear()
        for key, first_seen, starts, values in d["users"]:
            h = self.users[tuple(key)] = History(first_seen)
            h.starts.extend(starts)
            h.values.extend(values)
        self.peers.clear()
        self._peer_cache.clear()
        for key, days in d["peers"]:
            self.peers[tuple(key)] = {int(day): [(int(t), float(v)) for t, v in s]
                                      for day, s in days}
        self.next_close = min(self.pending, default=float("inf")) + self.spec.period


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _number(v: Any) -> float | None:
    if v.__class__ in (int, float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


__all__ = ["BaselineState", "limit", "percentile"]


register(StreamExtension(
    key="baseline",
    parse=parse_baseline,
    state=BaselineState,
    sentence="{value} ({metric}) for {group} in {period}; {comparison}",
    placeholders=frozenset({
        "value", "period", "own_baseline", "own_threshold", "own_method", "peer_baseline",
        "peer_threshold", "peer_method", "peer_group", "history_days", "floor", "metric",
        "peer_samples", "comparison"}),
))
