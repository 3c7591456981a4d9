"""The rule engine: events in, alerts out, on event time with a bounded lateness.

Each event goes only to the rules of its ``event.dataset``; each of those rules' predicates
runs once, however many correlations count its matches. The watermark is the newest event
time seen minus the allowed lateness: an event older than it is late (the caller
dead-letters it, ``is_late``), and correlation episodes whose last event is more than a
timespan behind it are closed. ``snapshot``/``restore`` carry the whole state as JSON, so a
process killed at any point and restarted from its last snapshot, fed the events after it,
raises the same alerts as one that never stopped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rules import dispatch, reload
from rules.alert import Alert
from rules.alert_events import ALERT_DATASET, MAX_DEPTH, alert_event
from rules.chain import Feeder
from rules.correlation import CorrelationState
from rules.dispatch import Dispatch, Route
from rules.explain import event_alert
from rules.limits import DEFAULT_LIMIT, DEFAULT_TOTAL
from rules.loader import RuleSet
from rules.logsource import HIS_ACCESS
from rules.model import CorrelationRule, DetectionRule
from rules.reload import ReloadReport
from rules.state import Adder
from rules.stream import StreamState
from rules.suppression import RuleSuppression, Suppressor
from rules.temporal import TemporalState
from sensors.event import Event

State = CorrelationState | TemporalState | StreamState

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
#: Returned when nothing fires (most events): shared, never mutated.
NO_ALERTS: Sequence[Alert] = ()
_NEVER = float("-inf")
#: How far event time moves between two sweeps for expired groups. Sweeps decide nothing
#: about alert content (an event arriving after a gap closes the old episode itself), they
#: only free memory and close quiet episodes; once per second of event time is plenty.
SWEEP_SECONDS = 1.0



def _shape(state: State) -> tuple[int, int, int, int]:
    return (len(state.groups), state.opened, state.closed, state.evicted)


def new_state(rule: CorrelationRule, sample_size: int) -> CorrelationState | TemporalState:
    """The streaming state of one correlation rule, by its kind."""
    if rule.kind in ("temporal", "temporal_ordered"):
        return TemporalState(rule, sample_size)
    return CorrelationState(rule, sample_size)


class Engine:
    """Evaluates a ``RuleSet`` over a stream of events."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        lateness_seconds: float = 60.0,
        sample_size: int = 20,
        default_dataset: str | None = HIS_ACCESS,
        sweep_seconds: float = SWEEP_SECONDS,
        max_groups: int = DEFAULT_LIMIT,
        max_groups_total: int = DEFAULT_TOTAL,
    ) -> None:
        """``default_dataset`` is assumed for events that carry no ``event.dataset``;
        ``sweep_seconds`` is how much event time passes between sweeps (memory only);
        ``max_groups`` bounds the groups of one rule and ``max_groups_total`` those of
        all rules together (``rules.limits``)."""
        if lateness_seconds < 0:
            raise ValueError("lateness_seconds must be >= 0")
        self.ruleset = ruleset
        self.lateness_seconds = float(lateness_seconds)
        self.sample_size = sample_size
        self.default_dataset = default_dataset
        self.sweep_seconds = sweep_seconds
        self.max_groups = max_groups
        self.max_groups_total = max_groups_total
        self._max_epoch = _NEVER
        self._watermark = _NEVER
        self.states: dict[str, State] = {}
        self.suppressor = Suppressor({})
        self._dispatch: dict[str | None, Dispatch] = {}
        self._silent: frozenset[str] = frozenset()
        #: Current versions of open episodes that grew, for the rules over alerts.
        self._progress: list[Alert] = []
        #: Rules switched off by an administrator (``phiwatch.rules_state``): evaluated as
        #: before (their matches still feed correlations), their own alerts not raised.
        self.disabled: frozenset[str] = frozenset()
        #: Events each rule matched since this engine started (``matches``): a plain dict
        #: with a zero for every loaded rule, whose increment is the cheapest on the hot
        #: path (a ``Counter``'s cost about 0.2 µs per event).
        self._hits: dict[str, int] = {}
        self._install(ruleset, {}, {})
        self._next_sweep = _NEVER
        self._out: list[Alert] = []
        #: The match counts and what each state looked like at the last snapshot: only
        #: the states that changed since are written again (``snapshot``).
        self._hits_seen: dict[str, int] = {}
        self._routed: set[int] = set()  # alerts offered as alert events in this round
        self._seen_shape: dict[str, tuple[int, int, int, int]] = {}
        self.events = 0
        self.late = 0
        self.rule_failures = 0
        self._failed_rules: set[str] = set()

    @property
    def matches(self) -> Counter[str]:
        """Events each rule matched since this engine started (the metrics show them)."""
        return Counter({rid: n for rid, n in self._hits.items() if n})

    def _clock(self) -> float:
        return self._watermark

    def _install(self, ruleset: RuleSet, states: Mapping[str, State],
                 suppression: Mapping[str, RuleSuppression]) -> None:
        """Build the routes of ``ruleset``, reusing the given states by rule id."""
        self.ruleset = ruleset
        n = self.sample_size
        fresh: dict[str, State] = {}
        for c in ruleset.correlations:
            fresh[c.id] = states.get(c.id) or new_state(c, n)
        for d in ruleset.detections:
            if d.stateful:
                fresh[d.id] = states.get(d.id) or self._stream_state(d)
        self.states = fresh
        for st in fresh.values():
            st.guard.limit = self.max_groups
        subscribed = self._subscribed(ruleset)
        for rid, st in fresh.items():
            st.progress = self._progress.append if rid in subscribed else None
        feeds: dict[str, list[Adder]] = {}
        for c in ruleset.correlations:
            for b in c.bases:
                if b.source is not None and b.source.id in fresh:
                    feeds.setdefault(b.source.id, []).append(fresh[c.id].adder(b))
        for cid, st in fresh.items():
            if isinstance(st, CorrelationState | TemporalState):
                st.chain = Feeder(st.rule, feeds[cid]) if cid in feeds else None
        self._silent = frozenset(c.id for c in ruleset.correlations if not c.alerts)
        #: States of correlations over alert events (``rules.alert_events``): swept after
        #: the others, so the final versions of the alerts they read reach them first.
        self._meta_ids = frozenset(
            c.id for c in ruleset.correlations
            if any(ALERT_DATASET in b.datasets for b in c.bases))
        supp: dict[str, RuleSuppression] = {}
        for r in ruleset.rules:
            if r.realert > 0:
                by = r.realert_by if isinstance(r, DetectionRule) and not r.stateful else None
                supp[r.id] = suppression.get(r.id) or RuleSuppression(r.realert, by)
        self.suppressor = Suppressor(supp)
        routes: dict[str, list[tuple[DetectionRule, Route]]] = {}
        for rule in ruleset.detections:
            adders = tuple(fresh[c.id].adder(rule)
                           for c in rule.correlations if c.id in fresh)
            if rule.stateful:
                adders += (fresh[rule.id].adder(rule),)
            if not rule.alerts and not adders:
                continue  # a building block whose correlation did not load: nothing to do
            route: Route = (rule.predicate, rule.spec if rule.alerts else None, adders, rule)
            for ds in sorted(rule.datasets):
                routes.setdefault(ds, []).append((rule, route))
        for rule in ruleset.detections:
            self._hits.setdefault(rule.id, 0)
        self._dispatch = {ds: dispatch.build(r) for ds, r in routes.items()}
        if self.default_dataset is not None and self.default_dataset in self._dispatch:
            self._dispatch[None] = self._dispatch[self.default_dataset]

    def _subscribed(self, ruleset: RuleSet) -> frozenset[str]:
        """The rules whose alerts a rule over alerts selects by tag or rule id alone
        (its predicate matches an alert event of the rule with nothing else known): their
        open episodes pass every update on (``progress``), so "within four hours after
        the harvest's last record" is measured from the last record."""
        readers = [d for d in ruleset.detections if ALERT_DATASET in d.datasets]
        if not readers:
            return frozenset()
        found: set[str] = set()
        for rule in ruleset.rules:
            probe = {"event.dataset": ALERT_DATASET, "rule.id": rule.id,
                     "tags": list(rule.spec.tags)}
            for reader in readers:
                try:
                    if reader.predicate(probe):
                        found.add(rule.id)
                        break
                except Exception:
                    continue
        return frozenset(found)

    def _stream_state(self, rule: DetectionRule) -> StreamState:
        """The state of a detection rule that measures a stream (``rules.stream``)."""
        assert rule.stream is not None
        return rule.stream.extension.state(rule, self.sample_size, self._clock)

    def reload(self, ruleset: RuleSet) -> ReloadReport:
        """Replace the rules without a restart (see ``rules.reload``).

        Rules whose id and definition are unchanged keep their windows, episodes,
        baselines and realert memory; changed and new rules start afresh; removed rules'
        state is dropped. A rule broken in ``ruleset`` keeps its last good version.
        """
        merged, report = reload.merge(self.ruleset, ruleset)
        old = {r.id: r.digest for r in self.ruleset.rules}
        same = {r.id for r in merged.rules if old.get(r.id) == r.digest}
        self._install(merged, {k: v for k, v in self.states.items() if k in same},
                      {k: v for k, v in self.suppressor.rules.items() if k in same})
        self._next_sweep = _NEVER
        return reload.finish(report, old, merged)

    # -- the hot path ------------------------------------------------------------------

    def process(self, event: Event) -> Sequence[Alert]:
        """Evaluate ``event``; the alerts it raises (usually none)."""
        epoch = event.epoch
        if epoch < self._watermark:
            self.late += 1
            return NO_ALERTS
        self.events += 1
        out = self._out
        if epoch > self._max_epoch:
            self._max_epoch = epoch
            wm = self._watermark = epoch - self.lateness_seconds
            if wm >= self._next_sweep:
                self._sweep(wm, out, full=False)
        self._route(event, out)
        if self._progress:  # open episodes that grew, offered to the rules over alerts
            grown, self._progress[:] = list(self._progress), []
            for alert in grown:
                self._route(alert_event(alert), out)
        if out:
            fired = out.copy()
            out.clear()
            return self._emit(fired)
        return NO_ALERTS

    def _route(self, event: Event, out: list[Alert]) -> None:
        """Run the rules of ``event``'s dataset on it."""
        fields = event.fields
        d = self._dispatch.get(fields.get("event.dataset"))
        if d is not None:
            if d.key is None:
                routes = d.full
            else:
                v = fields.get(d.key)
                if v.__class__ is str:
                    routes = d.by_value.get(v.lower(), d.default)
                else:
                    routes = d.default if v is None else d.full
            hits = self._hits
            for predicate, spec, adders, rule in routes:
                try:
                    if not predicate(fields):
                        continue
                    if spec is not None:
                        out.append(event_alert(spec, event))
                    for add in adders:
                        add(event, out)
                    hits[rule.id] += 1  # also what tells a snapshot the rule's state changed
                except Exception:  # a rule bug must cost its own alert, not the stream
                    self._rule_failed(rule, event)

    def _emit(self, fired: list[Alert]) -> list[Alert]:
        """What of ``fired`` leaves the engine: with the alerts of the rules over alerts
        they feed (``rules.alert_events``); not the alerts of correlations that only feed
        others (``generate`` unset), not those ``realert`` suppresses."""
        if ALERT_DATASET in self._dispatch:
            fired = self._cascade(fired, 0)
            self._routed.clear()
        if self._silent or self.disabled:
            fired = [a for a in fired
                     if a.rule_id not in self._silent and a.rule_id not in self.disabled]
        return self.suppressor.filter(fired) if self.suppressor else fired

    def _cascade(self, fired: list[Alert], depth: int) -> list[Alert]:
        """``fired`` and the alerts they raise as alert events, ``MAX_DEPTH`` levels deep
        (alerts already offered in this round are not offered twice)."""
        if depth >= MAX_DEPTH or not fired:
            return fired
        more: list[Alert] = []
        routed = self._routed
        for alert in fired:
            if id(alert) not in routed:
                routed.add(id(alert))
                self._route(alert_event(alert), more)
        return fired + self._cascade(more, depth + 1) if more else fired

    def _rule_failed(self, rule: DetectionRule, event: Event) -> None:
        self.rule_failures += 1
        if rule.id not in self._failed_rules:
            self._failed_rules.add(rule.id)
            log.exception("rule %r failed on the event at %s", rule.title, event.ref)

    def is_late(self, event: Event) -> bool:
        """Whether ``event`` is older than the watermark (``process`` would ignore it)."""
        return event.epoch < self._watermark

    @property
    def watermark(self) -> float:
        """Newest event time seen (or advanced to) minus the lateness; ``-inf`` at start."""
        return self._watermark

    # -- time --------------------------------------------------------------------------

    def _sweep(self, wm: float, out: list[Alert], *, full: bool) -> None:
        """Close what ``wm`` has passed. The rules over alerts go last, after the alerts
        this sweep closed were offered to them, so they see every final version."""
        meta = self._meta_ids
        first: list[Alert] = []
        for rid, st in self.states.items():
            if rid not in meta:
                st.sweep(wm, first, full=full)
        out.extend(self._cascade(first, 0) if meta else first)
        for rid in meta:
            self.states[rid].sweep(wm, out, full=full)
        if self.suppressor:
            self.suppressor.sweep(wm)
        self._share_total()
        self._next_sweep = wm + self.sweep_seconds

    def _share_total(self) -> None:
        """Past the total limit, the largest states get lower limits (in proportion to
        their size), which they reach as new groups arrive; under it, every state has the
        per-rule limit again."""
        sizes = {rid: len(st.groups) for rid, st in self.states.items()}
        total = sum(sizes.values())
        if total <= self.max_groups_total:
            for st in self.states.values():
                st.guard.limit = self.max_groups
            return
        scale = self.max_groups_total / total
        for rid, st in self.states.items():
            st.guard.limit = max(1_000, min(self.max_groups, int(sizes[rid] * scale)))

    def advance(self, now_epoch: float) -> list[Alert]:
        """Move event time on to ``now_epoch`` when the logs are quiet (live mode).

        Returns the final alerts of the episodes this closes.
        """
        out: list[Alert] = []
        if now_epoch > self._max_epoch:
            self._max_epoch = now_epoch
            self._watermark = now_epoch - self.lateness_seconds
            self._sweep(self._watermark, out, full=False)
        return self._emit(out)

    def flush(self) -> list[Alert]:
        """At the end of input: close what the watermark has passed, and emit the current
        version of every episode still open, without closing it."""
        out: list[Alert] = []
        self._sweep(self._watermark, out, full=True)
        meta = self._meta_ids
        current = [a for rid, st in self.states.items() if rid not in meta
                   for a in st.open_alerts()]
        out.extend(self._cascade(current, 0) if meta else current)
        for rid in meta:
            out.extend(self.states[rid].open_alerts())
        return self._emit(out)

    # -- state -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters for logs and the status page."""
        states = self.states.values()
        return {
            "events": self.events,
            "late": self.late,
            "rule_failures": self.rule_failures,
            "groups": sum(len(s.groups) for s in states),
            # Dropped to bound memory (``LimitGuard``), not groups whose windows expired.
            "groups_evicted": sum(s.guard.evictions for s in states),
            "groups_expired": sum(s.evicted for s in states),
            "episodes_opened": sum(s.opened for s in states),
            "episodes_closed": sum(s.closed for s in states),
            "suppressed": self.suppressor.suppressed,
        }

    def snapshot(self, *, changed_only: bool = False) -> dict[str, Any]:
        """The state as JSON-ready data (no infinities, no tuples required).

        ``changed_only``: ``correlations`` holds only the states that changed since the
        last snapshot (fed by a matched rule, or closed or evicted something); ``rules``
        lists every state's id, so a store can drop those no longer loaded. A flood that
        fills one rule then rewrites that rule, not the whole engine.
        """
        ids = self._changed() if changed_only else set(self.states)
        self._hits_seen = dict(self._hits)
        self._seen_shape = {rid: _shape(st) for rid, st in self.states.items()}
        return {
            "version": SNAPSHOT_VERSION,
            "max_epoch": None if self._max_epoch == _NEVER else self._max_epoch,
            "events": self.events,
            "late": self.late,
            "correlations": {cid: self.states[cid].snapshot() for cid in sorted(ids)},
            "rules": sorted(self.states),
            "suppression": self.suppressor.snapshot(),
        }

    def _changed(self) -> set[str]:
        """States fed by a rule matched since the last snapshot (and the correlations
        those feed, transitively), and states whose shape moved (a sweep closed or
        evicted groups)."""
        fed: set[str] = set()
        hits, seen = self._hits, self._hits_seen
        for rule in self.ruleset.detections:
            if hits.get(rule.id, 0) != seen.get(rule.id, 0):
                fed.update(c.id for c in rule.correlations)
                if rule.stateful:
                    fed.add(rule.id)
        chained = {c.id: [d.id for d in self.ruleset.correlations
                          if any(b.source is c for b in d.bases)]
                   for c in self.ruleset.correlations}
        todo = list(fed)
        while todo:
            for nxt in chained.get(todo.pop(), ()):
                if nxt not in fed:
                    fed.add(nxt)
                    todo.append(nxt)
        moved = {rid for rid, st in self.states.items()
                 if self._seen_shape.get(rid) != _shape(st)}
        return (fed | moved) & set(self.states)

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from ``snapshot()``'s data; state of rules no longer loaded is dropped."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"engine snapshot version {data.get('version')!r} is not "
                             f"{SNAPSHOT_VERSION}")
        max_epoch = data.get("max_epoch")
        self._max_epoch = _NEVER if max_epoch is None else float(max_epoch)
        self._watermark = self._max_epoch - self.lateness_seconds
        self.events = int(data.get("events", 0))
        self.late = int(data.get("late", 0))
        saved = data.get("correlations", {})
        self._install(self.ruleset, {}, {})  # fresh state for the rules not in ``data``
        for cid, st in self.states.items():
            if cid in saved:
                st.restore(saved[cid])
        self.suppressor.restore(data.get("suppression", {}))
        dropped = sorted(set(saved) - set(self.states))
        if dropped:
            log.info("snapshot state of %d rule(s) no longer loaded dropped: %s",
                     len(dropped), ", ".join(dropped))
        self._next_sweep = _NEVER
