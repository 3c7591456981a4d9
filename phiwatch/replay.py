"""``phiwatch replay``: process complete files to their end, as fast as possible.

The files go through the same pipeline as ``phiwatch run`` (``phiwatch.assembly``), merged
in event time, so a replay of last month gives the alerts the live feed gave — including,
with a ``reports:`` section, the 72-hour deadline warnings, on event time. A replay
keeps no state between runs: replaying the same files again raises the same alerts with
the same ids, and the store's count does not change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.incident_store import IncidentStore
from alerting.store import AlertStore
from phiwatch.assembly import Pipeline, assemble, enrichment, load_context, relax_gc
from phiwatch.config import Config
from phiwatch.inputs import Inputs
from phiwatch.report_clock import DeadlineStore, deadline_alerts
from rules.engine import Engine
from rules.loader import RuleSet
from sensors.deadletter import DeadLetter
from sensors.event import Event


@dataclass
class ReplayReport:
    files: int
    events: int
    alerts: int
    new_alerts: int
    dead_letters: dict[str, int]
    rule_errors: int
    quarantined: int = 0
    #: Where the dead letters are (one replay's, not every replay's).
    dead_letter_path: Path | None = None
    #: What the parsers noticed about whole files, each with the configuration fix.
    warnings: list[str] = field(default_factory=list)
    #: Report deadline warnings raised on event time (``reports.deadline_warnings``).
    deadline_warnings: int = 0

    @property
    def unreadable(self) -> bool:
        """Nothing could be read although there was input: every record was refused."""
        return self.events == 0 and sum(self.dead_letters.values()) > 0


def open_replay(config: Config, paths: Sequence[Path], store: AlertStore, *,
                ruleset: RuleSet | None = None, dead: Path | None = None) -> Pipeline:
    """A pipeline over complete files, with a fresh engine and dead-letter file."""
    dead = dead or config.dead_letter_dir / "replay.ndjson"
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.unlink(missing_ok=True)  # one replay's dead letters, not every replay's
    pipeline = assemble(config, store, live=False, dead_letter=dead, ruleset=ruleset)
    pipeline.inputs.add_files(paths)
    return pipeline


def replay(
    config: Config,
    paths: Sequence[Path],
    store: AlertStore,
    *,
    progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
    ruleset: RuleSet | None = None,
) -> ReplayReport:
    """Process ``paths`` to their end, merged in event-time order, with a fresh engine
    (over ``ruleset`` when given, else the configured rules)."""
    # Before the context files load too: with the default thresholds the collector ran
    # hundreds of times over their rows (measured, about 0.3 s of a replay); again after,
    # so what they loaded is frozen out of collection with the rest.
    relax_gc()
    pipeline = open_replay(config, paths, store,
                           ruleset=engine.ruleset if engine is not None else ruleset)
    if engine is not None:  # a caller's own engine (benchmarks measure its state)
        pipeline.engine = pipeline.processor.engine = engine
    relax_gc()
    processor = pipeline.processor
    clock = DeadlineClock.of(config, store)
    for batch in _with_progress(pipeline, progress):
        processor.process(batch)
        if clock is not None:
            clock.tick(processor.engine)
    processor.commit(pipeline.engine.flush())
    if clock is not None:
        clock.tick(processor.engine, force=True)
    pipeline.close()
    c = processor.counters
    return ReplayReport(
        files=len(paths), events=c["events"], alerts=c["alerts_raised"],
        new_alerts=c["alerts_new"], dead_letters=dict(pipeline.dead_letter.counts),
        rule_errors=len(pipeline.ruleset.errors), quarantined=pipeline.inputs.quarantined,
        dead_letter_path=pipeline.dead_letter.path,
        warnings=[w for s in pipeline.inputs.sources.values() for w in s.warnings],
        deadline_warnings=clock.raised if clock is not None else 0,
    )


@dataclass
class DeadlineClock:
    """The 72-hour warnings on event time: at most every ``every`` of event time, the
    replay asks ``deadline_alerts`` what is due "now" (the newest event), as the run
    loop does on the wall clock."""

    store: DeadlineStore
    every: timedelta = timedelta(minutes=15)
    last: datetime | None = None
    raised: int = 0

    @classmethod
    def of(cls, config: Config, store: AlertStore) -> DeadlineClock | None:
        wanted = config.reports is not None and config.reports.deadline_warnings
        if not wanted or not isinstance(store, IncidentStore):
            return None
        return cls(store)

    def tick(self, engine: Engine, *, force: bool = False) -> None:
        newest = engine.watermark + engine.lateness_seconds
        if not math.isfinite(newest):
            return
        now = datetime.fromtimestamp(newest, UTC)
        if not force and self.last is not None and now - self.last < self.every:
            return
        self.last = now
        self.raised += len(deadline_alerts(self.store, now))


def replay_events(config: Config, paths: Sequence[Path], dead: Path) -> tuple[list[Event], int]:
    """The events of ``paths`` as the pipeline would feed them to the rules, merged in
    event time and enriched (for ``phiwatch rules test``), and how many records were
    dead-lettered (to ``dead``)."""
    dead_letter = DeadLetter(dead)
    inputs = Inputs(config, dead_letter, live=False)
    inputs.add_files(paths)
    enrich = enrichment(config, load_context(config))
    out: list[Event] = []
    for batch in inputs.batches(config.pipeline.batch_size):
        if enrich is not None:
            for event in batch:
                enrich(event)
        out.extend(batch)
    inputs.close()
    dead_letter.close()
    return out, dead_letter.total


def _with_progress(pipeline: Pipeline,
                   progress: Callable[[int], None] | None) -> Iterator[list[Event]]:
    inputs = pipeline.inputs
    done = 0
    for batch in inputs.batches(pipeline.config.pipeline.batch_size):
        if progress is not None:
            now = inputs.bytes_read
            progress(now - done)
            done = now
        yield batch
