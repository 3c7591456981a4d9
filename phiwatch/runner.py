"""``phiwatch run``: tail the configured inputs until told to stop.

The loop reads what the files and live network inputs hold, lets the event-time merge
release what it may (``phiwatch.inputs``), runs it through the engine, commits the
alerts, and every ``snapshot_interval_seconds`` saves a snapshot (``phiwatch.snapshot``).
On start it resumes from the last snapshot; on SIGINT/SIGTERM it flushes open alerts,
saves a last snapshot and returns. After a kill -9 it resumes from the last snapshot and
re-reads what came after it; the store absorbs the re-raised alerts by id.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerting.store import AlertQuery, AlertStore
from phiwatch import snapshot as snapshots
from phiwatch.assembly import Pipeline, assemble, enrichment, load_context, relax_gc
from phiwatch.config import Config, load_config
from phiwatch.report_beat import ReportBeat
from phiwatch.rules_state import load_rules_state
from rules.alert import Alert
from rules.loader import RuleSet, load_rules
from sensors.change_notifier import ChangeNotifier
from sensors.checkpoint import FilePosition
from sensors.context import ContextWatcher
from sensors.errors import PhiwatchError
from sensors.event import Event

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    events: int
    alerts: int
    dead_letters: dict[str, int]
    snapshots: int


class Runner:
    """Tails every configured input into the engine and the store."""

    def __init__(
        self,
        config: Config,
        store: AlertStore,
        *,
        ruleset: RuleSet | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        on_round: Callable[[Runner], object] | None = None,
    ) -> None:
        self.config = config
        #: The file the configuration came from (``SIGHUP`` reads it again), if any.
        self.config_path: Path | None = None
        self.store = store
        #: Called once per turn of the loop (metrics publication), in the loop's thread.
        self.on_round = on_round
        self._reload_requested = threading.Event()
        self._rules_state_seen: tuple[int, int] | None = None
        self.snapshots = snapshots.SnapshotStore(config.snapshot_path)
        snapshots.migrate_json(config.state_dir / "state.json", self.snapshots)
        previous = self.snapshots.load()
        self.pipeline: Pipeline = assemble(
            config, store, live=True, dead_letter=config.dead_letter_dir / "run.ndjson",
            ruleset=ruleset, on_alert=on_alert)
        p = self.pipeline
        self.engine = p.engine
        self.processor = p.processor
        self.dead_letter = p.dead_letter
        self.inputs = p.inputs
        self.snapshots_taken = 0
        by_source: dict[str, list[FilePosition]] = {}
        if previous is not None:
            self.dead_letter.truncate_to(previous.dead_letter_size)
            self.engine.restore(previous.engine)
            self.processor.counters.update(previous.counters)
            for d in previous.positions:
                by_source.setdefault(str(d.get("source", "")), []).append(
                    FilePosition.from_dict(d))
            self.inputs.merge.restore(Event.from_record(r) for r in previous.held)
            log.info("resuming from the snapshot at %s", config.snapshot_path)
        for s in config.sources:
            self.inputs.add_source(s, positions=by_source.get(s.name, []),
                                   start_at_end=s.start_at == "end" and previous is None)
        #: Alerts committed just before a crash may not have reached their incident; the
        #: regrouping is retried at every snapshot until the store takes it.
        self._regroup_due = previous is not None
        self._regroup()
        self._apply_rules_state()
        # Live network inputs open now: a missing right to capture stops the start.
        self.inputs.add_flows()
        if config.ingest.enabled:
            self.inputs.add_remote(previous.remote if previous is not None else None)
        self.context_watcher = ContextWatcher(p.context) if p.context is not None else None
        #: Reports (``reports:``): drafting, delivery and the 72-hour warnings, every few
        #: seconds; the warnings go where alerts go.
        self.report_beat = ReportBeat.of(config, store, on_alert)
        dirs = [d for src in self.inputs.sources.values() for d in src.watched_dirs()]
        self.notifier = ChangeNotifier(dirs)
        # Rule folders are watched on their own: an edit reloads the rules in place.
        self.rules_notifier = ChangeNotifier([p for p in config.rules.paths if p.is_dir()])
        self._rules_changed_at: float | None = None
        # Event time released last, and when (wall clock): once every input has been
        # quiet for ``idle_advance_seconds``, event time follows the wall clock so that
        # finished alert episodes close.
        self._last_event_epoch: float | None = None
        self._last_event_wall = time.monotonic()

    @property
    def ruleset(self) -> RuleSet:
        return self.engine.ruleset

    def _regroup(self) -> None:
        grouper = self.processor.grouper
        if grouper is not None and grouper.pending:  # a store that was away is back?
            try:
                grouper.retry_pending()
            except (PhiwatchError, OSError) as e:
                log.warning("incident grouping still pending (%s)", e)
        if not self._regroup_due or grouper is None or self.engine.watermark <= 0:
            self._regroup_due = False
            return
        since = datetime.fromtimestamp(self.engine.watermark - 86_400, UTC)
        try:
            grouper.backfill(self.store, AlertQuery(start=since, limit=10_000))
        except (PhiwatchError, OSError) as e:
            log.warning("could not regroup recent alerts into incidents yet (%s); "
                        "retrying at the next snapshot", e)
            return
        self._regroup_due = False

    def run(self, stop: threading.Event) -> RunReport:
        """Tail until ``stop`` is set; then flush, snapshot and return."""
        cfg = self.config.pipeline
        relax_gc()
        self.notifier.start()
        self.rules_notifier.start()
        if self.context_watcher is not None:
            self.context_watcher.start()  # a broken edit keeps the last good version
        if self.inputs.flows is not None:
            self.inputs.flows.start()
        self.inputs.scan()
        last_scan = last_snapshot = time.monotonic()
        try:
            while not stop.is_set():
                got = self._step(cfg.batch_size)
                now = time.monotonic()
                if self.notifier.files_changed or now - last_scan >= cfg.scan_interval_seconds:
                    self.notifier.files_changed = False
                    self.inputs.scan()
                    last_scan = now
                self._advance_idle_clock()
                self._maybe_reload_rules()
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self.reload_configuration()
                self._apply_rules_state()  # one stat() of a small file
                if self.report_beat is not None:
                    self.report_beat.maybe()
                if self.on_round is not None:
                    self.on_round(self)
                if now - last_snapshot >= cfg.snapshot_interval_seconds:
                    self.save_snapshot()
                    last_snapshot = now
                if not got:
                    self.notifier.wait(cfg.poll_interval_seconds)
            if self.inputs.flows is not None:
                self.inputs.flows.stop()  # open flows are reported as ended
            self._step(cfg.batch_size)
            self.processor.commit(self.engine.flush())
            self.save_snapshot()
        finally:
            self.notifier.stop()
            self.rules_notifier.stop()
            if self.context_watcher is not None:
                self.context_watcher.stop()
            self.pipeline.close()
            self.snapshots.close()
            if self.report_beat is not None:
                self.report_beat.close()
        c = self.processor.counters
        return RunReport(c["events"], c["alerts_raised"], dict(self.dead_letter.counts),
                         self.snapshots_taken)

    def _step(self, batch_size: int) -> int:
        """Read, release and process one round; returns records read plus released."""
        got, events = self.inputs.step(batch_size)
        for i in range(0, len(events), batch_size):
            self.processor.process(events[i:i + batch_size])
        if events:
            newest = events[-1].epoch
            if self._last_event_epoch is None or newest > self._last_event_epoch:
                self._last_event_epoch = newest
        if got or events:
            self._last_event_wall = time.monotonic()
        return got + len(events)

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
        report = self.engine.reload(load_rules(self.config.rules.paths))
        level = logging.INFO if report.ok else logging.WARNING
        log.log(level, "rules reloaded: %s", report)
        self.processor.counters["rules_reloads"] += 1

    def _advance_idle_clock(self) -> None:
        """Every input quiet for ``idle_advance_seconds``: event time follows the wall
        clock, that long behind, so finished episodes close. A buffered delivery that
        arrives within that time loses nothing."""
        if self._last_event_epoch is None or self.inputs.merge.pending():
            return
        idle = time.monotonic() - self._last_event_wall
        wait = self.config.pipeline.idle_advance_seconds
        if idle >= wait:
            self.processor.commit(self.engine.advance(self._last_event_epoch + idle - wait))

    def save_snapshot(self) -> None:
        """Save positions, held events, engine state and dead-letter size as one
        consistent snapshot: every alert committed before it is durable first."""
        self._regroup()
        self.dead_letter.sync()
        snap = snapshots.Snapshot(
            positions=self.inputs.positions(),
            engine=self.engine.snapshot(changed_only=True),
            dead_letter_size=self.dead_letter.size(),
            counters=dict(self.processor.counters),
            rules_digest=_digest(self.ruleset),
            held=[e.to_record() for e in self.inputs.held()],
            remote=self.inputs.remote.positions() if self.inputs.remote is not None else {},
        )
        self.snapshots.save(snap)
        self.snapshots_taken += 1
        if self.inputs.remote is not None:
            self.inputs.remote.prune()  # the snapshot has read past them

    # The command line wakes the loop on a signal.
    def wake(self) -> None:
        self.notifier.wake()

    @property
    def newest_event(self) -> float | None:
        """Event time of the newest event released to the rules (for the status)."""
        return self._last_event_epoch

    def request_reload(self) -> None:
        """Ask the loop to read the configuration again (SIGHUP); safe from a signal
        handler: the loop does the work at its next turn."""
        self._reload_requested.set()
        self.notifier.wake()

    def reload_configuration(self) -> None:
        """Read the configuration file again and apply what can change while running:
        the rules (their windows kept, as for a rule edit), the context files and their
        vocabulary, the rules switched off. A configuration that does not load keeps the
        running one, with the reason logged; sources, store and API need a restart."""
        path = self.config_path
        if path is None:
            log.warning("SIGHUP: started without a configuration file; nothing to reload")
            return
        try:
            new = load_config(path)
        except PhiwatchError as e:
            log.error("SIGHUP: the configuration does not load, the running one is kept: %s", e)
            return
        changed = [k for k in ("sources", "store", "api", "flows", "state_dir")
                   if getattr(new, k) != getattr(self.config, k)]
        if changed:
            log.warning("SIGHUP: %s changed; those take effect at the next restart",
                        ", ".join(changed))
        if new.context != self.config.context:
            context = load_context(new)
            self.pipeline.context = context
            self.processor.enrich = enrichment(new, context)
            if self.context_watcher is not None:
                self.context_watcher.stop()
            self.context_watcher = ContextWatcher(context) if context is not None else None
            if self.context_watcher is not None:
                self.context_watcher.start()
            log.info("SIGHUP: context files and vocabulary reloaded")
        self.config = self.config.model_copy(update={
            "rules": new.rules, "context": new.context, "network": new.network,
            "incidents": new.incidents, "notify": new.notify})
        report = self.engine.reload(load_rules(self.config.rules.paths))
        log.log(logging.INFO if report.ok else logging.WARNING, "SIGHUP: rules reloaded: %s",
                report)
        self.processor.counters["config_reloads"] += 1
        self._rules_state_seen = None
        self._apply_rules_state()

    def _apply_rules_state(self) -> None:
        """Rules switched on or off through the API (``state_dir/rules-state.json``)."""
        path = self.config.rules_state_path
        try:
            st = path.stat()
            seen: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            seen = None
        if seen == self._rules_state_seen:
            return
        self._rules_state_seen = seen
        try:
            state = load_rules_state(path)
        except PhiwatchError as e:
            log.warning("rules state not applied: %s", e)
            return
        self.engine.disabled = frozenset(state.disabled)
        if state.disabled:
            log.info("rules switched off: %s", ", ".join(sorted(state.disabled)))


def _digest(ruleset: RuleSet) -> str:
    ids = sorted(r.id for r in ruleset.rules)
    return hashlib.blake2b("\n".join(ids).encode(), digest_size=8).hexdigest()
