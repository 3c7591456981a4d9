"""The middle of every pipeline: enrich events, run them through the engine, commit alerts.

``Processor`` is fed batches in event time (by ``phiwatch.inputs``): each event is first
checked against the engine's watermark (an event older than it is late: dead-lettered
with its original line and offset, counted), then enriched (network model, hospital
context), then evaluated; the alerts a batch raises are written to the store before the
batch counts as done, and grouped into incidents.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from alerting.grouping import IncidentGrouper
from alerting.store import AlertStore
from phiwatch.inputs import original_line
from rules.alert import Alert
from rules.engine import Engine
from sensors.deadletter import DeadLetter
from sensors.errors import PhiwatchError
from sensors.event import Event

log = logging.getLogger(__name__)

Enrich = Callable[[Event], object]


@dataclass
class Processor:
    """Events in, alerts committed; counts what it did."""

    engine: Engine
    store: AlertStore
    dead_letter: DeadLetter
    on_alert: Callable[[Alert], None] | None = None
    #: Adds what the network model and the hospital's context files know, before the rules.
    enrich: Enrich | None = None
    #: Groups committed alerts into incidents (in the same store).
    grouper: IncidentGrouper | None = None
    #: When these alerts were detected, for the incidents they open (the 72-hour clock);
    #: None: the grouper's clock (the wall clock live; ``assemble`` sets event time for a
    #: replay).
    detected_at: Callable[[Sequence[Alert]], datetime] | None = None
    counters: Counter[str] = field(default_factory=Counter)

    def process(self, events: Iterable[Event]) -> list[Alert]:
        """Enrich ``events``, run them through the engine, commit the alerts they raise."""
        engine = self.engine
        process = engine.process
        is_late = engine.is_late
        enrich = self.enrich
        raised: list[Alert] = []
        n = late = 0
        for event in events:
            n += 1
            if is_late(event):
                late += 1
                self._dead_late(event)
                continue
            if enrich is not None:
                enrich(event)
            fired = process(event)
            if fired:
                raised.extend(fired)
        self.counters["events"] += n
        self.counters["late"] += late
        self.commit(raised)
        return raised

    def commit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        result = self.store.write(alerts)
        self.counters["alerts_raised"] += len(alerts)
        self.counters["alerts_new"] += result.inserted
        self.counters["alerts_updated"] += result.updated
        if self.grouper is not None:
            try:
                when = self.detected_at(alerts) if self.detected_at is not None else None
                grouped = self.grouper.add(alerts, when)
                self.counters["incidents_new"] += grouped.created
            except (PhiwatchError, OSError) as e:  # the store is away: retried later
                log.warning("alerts not grouped into incidents yet (%s); will retry", e)
        if self.on_alert is not None:
            for a in alerts:
                self.on_alert(a)

    def _dead_late(self, event: Event) -> None:
        path, _, line = event.ref.rpartition(":")
        self.dead_letter.write(
            source=path or event.ref,
            line=int(line) if line.isdigit() else 0,
            offset=event.offset,
            reason=(
                f"event at {event.timestamp.isoformat()} is older than the watermark "
                f"(more than {self.engine.lateness_seconds:g} s behind the newest event)"
            ),
            raw=original_line(event),
            kind="late",
        )
