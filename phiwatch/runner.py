"""The long-running service: tail the configured logs until told to stop.

The loop reads what the files hold, runs it through the engine, commits the alerts, and
every ``snapshot_interval_seconds`` saves a snapshot (``phiwatch.snapshot``). On start it
resumes from the last snapshot; on SIGINT/SIGTERM it flushes open alerts, saves a last
snapshot and returns. After a kill -9 it resumes from the last snapshot and re-reads what
came after it; the store absorbs the re-raised alerts by id.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from alerting.store import AlertQuery, AlertStore
from phiwatch import snapshot as snapshots
from phiwatch.config import Config
from phiwatch.pipeline import (
    Processor,
    build_engine,
    build_grouper,
    load_context,
    parser_factory,
    relax_gc,
)
from rules.alert import Alert
from rules.loader import RuleSet, load_rules
from sensors.change_notifier import ChangeNotifier
from sensors.checkpoint import Checkpoint, FilePosition
from sensors.context import ContextWatcher, Enricher
from sensors.deadletter import DeadLetter
from sensors.file_source import FileSource
from sensors.flows.inputs import FlowInputs
from sensors.flows.network_model import NetworkTagger

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    events: int
    alerts: int
    dead_letters: dict[str, int]
    snapshots: int


class Runner:
    """Tails every configured source into the engine and the store."""

    def __init__(
        self,
        config: Config,
        store: AlertStore,
        *,
        ruleset: RuleSet | None = None,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.ruleset = ruleset or load_rules(config.rules.paths)
        self.engine = build_engine(config, self.ruleset)
        config.dead_letter_dir.mkdir(parents=True, exist_ok=True)
        self.dead_letter = DeadLetter(config.dead_letter_dir / "run.ndjson")
        self.context = load_context(config)
        self.context_watcher = ContextWatcher(self.context) if self.context is not None else None
        self.processor = Processor(
            self.engine, store, self.dead_letter, on_alert=on_alert,
            enrich=Enricher(self.context).enrich if self.context is not None else None,
            grouper=build_grouper(config, store),
        )
        self.snapshots_taken = 0
        previous = snapshots.load(config.snapshot_path)
        by_source: dict[str, list[FilePosition]] = {}
        if previous is not None:
            self.dead_letter.truncate_to(previous.dead_letter_size)
            self.engine.restore(previous.engine)
            self.processor.counters.update(previous.counters)
            for d in previous.positions:
                by_source.setdefault(str(d.get("source", "")), []).append(
                    FilePosition.from_dict(d)
                )
            log.info("resuming from the snapshot at %s", config.snapshot_path)
        self.sources: dict[str, FileSource] = {
            s.name: FileSource(
                s.paths,
                parser_factory(config, s),
                self.dead_letter,
                Checkpoint(by_source.get(s.name, [])),
                exclude=s.exclude,
                start_at_end=s.start_at == "end" and previous is None,
                max_line_bytes=s.max_line_bytes,
                rotate_wait=s.rotate_wait_seconds,
            )
            for s in config.sources
        }
        grouper = self.processor.grouper
        if previous is not None and grouper is not None and self.engine.watermark > 0:
            # Alerts committed just before a crash may not have reached their incident.
            since = datetime.fromtimestamp(self.engine.watermark - 86_400, UTC)
            try:
                grouper.backfill(store, AlertQuery(start=since, limit=10_000))
            except Exception as e:
                log.warning("could not regroup recent alerts into incidents: %s", e)
        # Live network inputs open now: a missing right to capture stops the start.
        self.flow_inputs = FlowInputs(list(config.flows)) if config.flows else None
        self._tag = NetworkTagger(config.network).tag
        dirs = [d for src in self.sources.values() for d in src.watched_dirs()]
        self.notifier = ChangeNotifier(dirs)
        # Rule folders are watched on their own: an edit reloads the rules in place.
        self.rules_notifier = ChangeNotifier([p for p in config.rules.paths if p.is_dir()])
        self._rules_changed_at: float | None = None
        # Event time seen last, and when: while the logs are quiet, the engine's clock is
        # moved on by the wall clock so that finished alert episodes still close.
        self._last_event_epoch: float | None = None
        self._last_event_wall = 0.0

    def run(self, stop: threading.Event) -> RunReport:
        """Tail until ``stop`` is set; then flush, snapshot and return."""
        cfg = self.config.pipeline
        relax_gc()
        self.notifier.start()
        self.rules_notifier.start()
        if self.context_watcher is not None:
            self.context_watcher.start()  # a broken edit keeps the last good version
        if self.flow_inputs is not None:
            self.flow_inputs.start()
        self._scan()
        last_scan = last_snapshot = time.monotonic()
        try:
            while not stop.is_set():
                got = self._read_all(cfg.batch_size)
                now = time.monotonic()
                if self.notifier.files_changed or now - last_scan >= cfg.scan_interval_seconds:
                    self.notifier.files_changed = False
                    self._scan()
                    last_scan = now
                self._advance_idle_clock()
                self._maybe_reload_rules()
                if now - last_snapshot >= cfg.snapshot_interval_seconds:
                    self.save_snapshot()
                    last_snapshot = now
                if not got:
                    self.notifier.wait(cfg.poll_interval_seconds)
            if self.flow_inputs is not None:
                self.flow_inputs.stop()  # open flows are reported as ended
            self._read_all(cfg.batch_size)
            self.processor.commit(self.engine.flush())
            self.save_snapshot()
        finally:
            if self.flow_inputs is not None:
                self.flow_inputs.close()
            self.notifier.stop()
            self.rules_notifier.stop()
            if self.context_watcher is not None:
                self.context_watcher.stop()
            for source in self.sources.values():
                source.close()
            self.dead_letter.close()
        c = self.processor.counters
        return RunReport(c["events"], c["alerts_raised"], dict(self.dead_letter.counts),
                         self.snapshots_taken)

    def _scan(self) -> None:
        for source in self.sources.values():
            source.scan()

    def _read_all(self, batch_size: int) -> int:
        got = 0
        for source in self.sources.values():
            events = source.read(batch_size)
            if events:
                got += len(events)
                self.processor.process(events)
                newest = max(e.epoch for e in events)
                if self._last_event_epoch is None or newest > self._last_event_epoch:
                    self._last_event_epoch = newest
                self._last_event_wall = time.monotonic()
        if self.flow_inputs is not None:
            got += self._read_flows(batch_size)
        return got

    def _read_flows(self, batch_size: int) -> int:
        """Tag and process a batch of the flow and DNS events the live inputs delivered
        (one batch per turn of the loop, so log files get their turn too)."""
        assert self.flow_inputs is not None
        events = self.flow_inputs.drain(batch_size)
        if not events:
            return 0
        tag = self._tag
        for e in events:
            tag(e)
        self.processor.process(events)
        newest = max(e.epoch for e in events)
        if self._last_event_epoch is None or newest > self._last_event_epoch:
            self._last_event_epoch = newest
        self._last_event_wall = time.monotonic()
        return len(events)

    def _maybe_reload_rules(self) -> None:
        """Reload the rules half a second after their files stop changing.

        Rules whose definition is unchanged keep their windows; a rule file that no longer
        loads keeps its last good rules running (``Engine.reload``).
        """
        if self.rules_notifier.files_changed or self.rules_notifier.wait(0):
            self.rules_notifier.files_changed = False
            self._rules_changed_at = time.monotonic()
            return
        if self._rules_changed_at is None or time.monotonic() - self._rules_changed_at < 0.5:
            return
        self._rules_changed_at = None
        ruleset = load_rules(self.config.rules.paths)
        report = self.engine.reload(ruleset)
        self.ruleset = ruleset
        level = logging.INFO if report.ok else logging.WARNING
        log.log(level, "rules reloaded: %s", report)
        self.processor.counters["rules_reloads"] += 1

    def _advance_idle_clock(self) -> None:
        if self._last_event_epoch is None:
            return
        idle = time.monotonic() - self._last_event_wall
        if idle >= 1.0:  # only when the logs are really quiet, not between two batches
            self.processor.commit(self.engine.advance(self._last_event_epoch + idle))

    def save_snapshot(self) -> None:
        """Save positions, engine state and dead-letter size as one consistent snapshot."""
        self.dead_letter.sync()
        positions = [
            {"source": name, **p.to_dict()}
            for name, src in self.sources.items()
            for p in src.positions()
        ]
        snap = snapshots.Snapshot(
            positions=positions,
            engine=self.engine.snapshot(),
            dead_letter_size=self.dead_letter.size(),
            counters=dict(self.processor.counters),
            rules_digest=_digest(self.ruleset),
        )
        snapshots.save(self.config.snapshot_path, snap)
        self.snapshots_taken += 1


def _digest(ruleset: RuleSet) -> str:
    ids = sorted(r.id for r in ruleset.rules)
    return hashlib.blake2b("\n".join(ids).encode(), digest_size=8).hexdigest()
