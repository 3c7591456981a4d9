"""A snapshot of a running pipeline's counters, for metrics and status pages.

The run loop is single-threaded and its counters are plain ints and dicts; a scrape
arrives on another thread. So the loop *publishes* an immutable ``RunStatus`` now and
then (``StatusBoard.publish``, about once a second: a few dict copies and one ``stat``
per open file) and a scrape reads the last one published. Nothing is added to the
per-event path. ``collect_run_status`` builds the snapshot from the parts of a pipeline
(``phiwatch.assembly.Pipeline``); ``AlertTally`` is the one piece that counts as alerts
are committed (by rule and severity), as a ``Processor.on_alert`` callback.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from alerting.notify.notifier import Notifier
from alerting.notify.status import ChannelCounters
from phiwatch.inputs import Inputs
from phiwatch.processor import Processor
from rules.alert import Alert
from rules.engine import Engine
from sensors.deadletter import DeadLetter
from sensors.file_source import FileSource


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One configured source (or live network input)."""

    events: int = 0
    lines: int = 0
    bytes_read: int = 0
    #: Bytes in the open files past what has been read and handed on (the backlog).
    bytes_unread: int = 0
    open_files: int = 0


@dataclass(frozen=True, slots=True)
class RunStatus:
    """What a running phiwatch has done and holds, at ``taken_at`` (wall clock, epoch s)."""

    taken_at: float = 0.0
    started_at: float = 0.0
    #: Event time (epoch s) of the newest event released to the rules; ``None`` before any.
    newest_event: float | None = None
    sources: Mapping[str, SourceStatus] = field(default_factory=dict)
    #: The processor's counters: events, late, alerts_raised, alerts_new, alerts_updated,
    #: incidents_new, rules_reloads …
    counters: Mapping[str, int] = field(default_factory=dict)
    #: Dead-letter records by kind (parse, oversize, late, quarantine …).
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    quarantined: int = 0
    #: Alerts raised by (rule id, severity).
    alerts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: Single-event rule matches by rule id, where the engine counts them.
    rule_matches: Mapping[str, int] = field(default_factory=dict)
    #: ``Engine.stats()``: groups, groups_evicted, episodes_opened/closed, suppressed …
    engine: Mapping[str, int] = field(default_factory=dict)
    #: The store's flat stats (Elasticsearch: ``es_spool_depth``, ``es_outages_total`` …).
    store: Mapping[str, float] = field(default_factory=dict)
    #: Per notification channel: counters since start and gauges of the last round.
    notify: Mapping[str, ChannelCounters] = field(default_factory=dict)
    snapshots: int = 0
    #: False for the board's placeholder before the run loop first publishes: its zeros
    #: are not counts (a restart restores them from the snapshot first).
    published: bool = True

    @property
    def lag_seconds(self) -> float | None:
        """How far the newest released event is behind the wall clock at ``taken_at``."""
        if self.newest_event is None:
            return None
        return max(0.0, self.taken_at - self.newest_event)


class StatusBoard:
    """The last published ``RunStatus``; publish from the loop, read from anywhere.

    Reading and replacing one reference is atomic in Python, so no lock is needed."""

    def __init__(self) -> None:
        self._status = RunStatus(taken_at=time.time(), started_at=time.time(),
                                 published=False)
        self._next = 0.0

    def publish(self, status: RunStatus) -> None:
        self._status = status

    def publish_due(self, build: Callable[[], RunStatus], *, interval: float = 1.0,
                    now: float | None = None) -> bool:
        """Publish ``build()`` if ``interval`` seconds (monotonic) have passed since the
        last time; call it every loop round. Returns whether it published."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return False
        self._next = now + interval
        self.publish(build())
        return True

    def __call__(self) -> RunStatus:
        return self._status


class AlertTally:
    """Counts committed alerts by (rule id, severity); an ``on_alert`` callback.

    Counts every emission (an alert's versions too), like ``alerts_raised``."""

    def __init__(self, then: Callable[[Alert], None] | None = None) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._then = then
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self.counts[(alert.rule_id, alert.severity)] += 1
        if self._then is not None:
            self._then(alert)

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.counts)


def unread_bytes(source: FileSource) -> int:
    """Bytes of the source's open files past their committed positions (one ``stat`` each)."""
    open_paths = set(source.open_files)
    total = 0
    for p in source.positions():
        if p.path not in open_paths:
            continue
        try:
            st = os.stat(p.path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (p.dev, p.ino):
            total += max(0, st.st_size - p.offset)
    return total


def _sources(inputs: Inputs) -> dict[str, SourceStatus]:
    out = {name: SourceStatus(src.events, src.lines, src.bytes_read, unread_bytes(src),
                              len(src.open_files))
           for name, src in inputs.sources.items()}
    if inputs.flows is not None:
        for name, n in inputs.flows.stats().items():
            if ":" not in name:
                out[name] = SourceStatus(events=n)
    if inputs.remote is not None:  # events from each remote sensor since this start
        for sensor, n in inputs.remote.events_in.items():
            out[f"sensor:{sensor}"] = SourceStatus(events=n)
    return out


def collect_run_status(*, processor: Processor, inputs: Inputs, engine: Engine,
                       dead_letter: DeadLetter, newest_event: float | None = None,
                       store: object | None = None, notifier: Notifier | None = None,
                       tally: AlertTally | None = None, snapshots: int = 0,
                       started_at: float = 0.0,
                       clock: Callable[[], float] = time.time) -> RunStatus:
    """A ``RunStatus`` of a pipeline's parts; call it on the loop's thread.

    ``newest_event``: the event time the loop released last (``Runner`` tracks it); when
    not given, the engine's newest seen event time stands in. ``store``: anything with a
    ``stats() -> dict[str, float]`` (the Elasticsearch store) contributes its numbers."""
    if newest_event is None and math.isfinite(engine.watermark):
        newest_event = engine.watermark + engine.lateness_seconds
    stats = getattr(store, "stats", None)
    store_stats = stats() if callable(stats) else {}
    return RunStatus(
        taken_at=clock(), started_at=started_at, newest_event=newest_event,
        sources=_sources(inputs), counters=dict(processor.counters),
        dead_letters=dict(dead_letter.counts), quarantined=inputs.quarantined,
        alerts=tally.snapshot() if tally is not None else {},
        rule_matches=dict(engine.matches), engine=dict(engine.stats()),
        store={k: float(v) for k, v in store_stats.items()} if store_stats else {},
        notify=notifier.stats() if notifier is not None else {},
        snapshots=snapshots)
