"""``phiwatch sensor``: read this host's logs and captures, ship the events to the engine.

A remote sensor runs the same inputs as ``phiwatch run`` (``phiwatch.inputs``: files
through their formats, live capture or NetFlow, the event-time merge) and no rules. What
the merge releases is cut into batches (``sensor.batch_max_events`` or
``sensor.batch_max_seconds``), each spooled durably together with the read positions
(``sensors.remote.spool``) and shipped by a thread (``sensors.remote.shipper``). After a
kill -9 the sensor resumes from its spool: every line is in exactly one batch, and the
engine records a batch sent twice once.

When the engine is away the spool grows up to ``sensor.spool_max_bytes``; past it the
sensor stops reading and the logs wait on disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from phiwatch.config import Config
from phiwatch.inputs import Inputs
from sensors.change_notifier import ChangeNotifier
from sensors.checkpoint import FilePosition
from sensors.deadletter import DeadLetter
from sensors.errors import ConfigKeyError
from sensors.event import Event
from sensors.remote.batch import Header, encode
from sensors.remote.shipper import Shipper, TokenFile
from sensors.remote.spool import SensorSpool, SensorState

log = logging.getLogger(__name__)

#: With no batch to cut, the positions are still saved this often (dead-lettered lines
#: move them too), so a restart does not read those lines again.
STATE_INTERVAL = 5.0


@dataclass
class SensorReport:
    events: int
    batches: int
    dead_letters: dict[str, int]


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigKeyError("sensor.token_file", f"cannot read the sensor's token: "
                             f"{e.strerror}", file=str(path),
                             hint="phiwatch token issue --role sensor --hospital H "
                                  "--subject NAME > FILE, on the engine") from e
    if not token:
        raise ConfigKeyError("sensor.token_file", "the token file is empty", file=str(path))
    return token


class SensorRunner:
    """The inputs, the spool and the shipper of one remote sensor."""

    def __init__(self, config: Config, *, name: str, transport: object = None) -> None:
        if config.sensor is None:
            raise ConfigKeyError("sensor", "phiwatch sensor needs a `sensor:` section "
                                 "(engine_url, token_file)")
        if not config.sources and not config.flows:
            raise ConfigKeyError("sources", "no log source or network input to ship")
        self.config = config
        self.settings = config.sensor
        self.name = name
        self.spool = SensorSpool(config.sensor_spool_path)
        self.dead_letter = DeadLetter(config.dead_letter_dir / "sensor.ndjson")
        self.inputs = Inputs(config, self.dead_letter, live=True)
        state = self.spool.state()
        by_source: dict[str, list[FilePosition]] = {}
        if state is not None:
            self.dead_letter.truncate_to(state.dead_letter_size)
            for d in state.positions:
                by_source.setdefault(str(d.get("source", "")), []).append(
                    FilePosition.from_dict(d))
            self.inputs.merge.restore(Event.from_record(r) for r in state.held)
            log.info("resuming from the spool at %s (%d batch(es) to ship)",
                     self.spool.path, self.spool.depth()[0])
        for s in config.sources:
            self.inputs.add_source(s, positions=by_source.get(s.name, []),
                                   start_at_end=s.start_at == "end" and state is None)
        self.inputs.add_flows()
        self.notifier = ChangeNotifier(
            [d for src in self.inputs.sources.values() for d in src.watched_dirs()])
        #: What heartbeats say: (newest spooled seq, watermark); ``None`` until the first
        #: read (``Shipper.heartbeat``).
        self._position: tuple[int, float | None] | None = None
        self.shipper = Shipper(
            self.settings, self.spool, token=TokenFile(self.settings.token_file, read_token),
            sensor=name,
            refused_dir=config.dead_letter_dir / "refused",
            position=lambda: self._position,
            transport=transport)  # type: ignore[arg-type]
        self._pending: list[Event] = []
        self._first_at: float | None = None
        self._saved_at = time.monotonic()
        self.events = 0
        self.batches = 0
        self.paused = False

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> SensorReport:
        """Read and ship until ``stop`` is set; then cut the last batch, ship what the
        engine takes within a few seconds, and return (the rest waits in the spool)."""
        poll = self.config.pipeline.poll_interval_seconds
        scan_every = self.config.pipeline.scan_interval_seconds
        self.shipper.start()
        if self.inputs.flows is not None:
            self.inputs.flows.start()
        self.notifier.start()
        self.inputs.scan()
        last_scan = time.monotonic()
        try:
            while not stop.is_set():
                got = self.step()
                now = time.monotonic()
                if self.notifier.files_changed or now - last_scan >= scan_every:
                    self.notifier.files_changed = False
                    self.inputs.scan()
                    last_scan = now
                if not got:
                    self.notifier.wait(poll)
            if self.inputs.flows is not None:
                self.inputs.flows.stop()
            self.step(final=True)
        finally:
            self.notifier.stop()
            self.shipper.stop()
            self.inputs.close()
            self.dead_letter.close()
            self.spool.close()
        return SensorReport(self.events, self.batches, dict(self.dead_letter.counts))

    def step(self, *, final: bool = False) -> int:
        """One round: read, release, and cut a batch when one is due."""
        now = time.monotonic()
        if self._spool_full():
            return 0
        got, released = self.inputs.step(self.settings.batch_max_events)
        if released:
            if not self._pending:
                self._first_at = now
            self._pending.extend(released)
        due = self._pending and (
            final or len(self._pending) >= self.settings.batch_max_events
            or now - (self._first_at or now) >= self.settings.batch_max_seconds)
        if due:
            self._cut(now)
        elif not self._pending and (final or now - self._saved_at >= STATE_INTERVAL):
            self.spool.append(lambda seq: b"", 0, self._state())
            self._saved_at = now
            self._position = (self.spool.last_seq, self._watermark(now))
        elif not self._pending:
            self._position = (self.spool.last_seq, self._watermark(now))
        return got + len(released)

    def _cut(self, now: float) -> None:
        while self._pending:
            events = self._pending[:self.settings.batch_max_events]
            del self._pending[:len(events)]
            watermark = self._watermark(now)
            if self._pending:  # more batches follow: they hold nothing older than these
                first = min(e.epoch for e in self._pending)
                watermark = first if watermark is None else min(watermark, first)
            n = len(events)

            def body(seq: int, events: list[Event] = events,
                     watermark: float | None = watermark) -> bytes:
                return encode(Header(self.name, self.spool.stream, seq, watermark,
                                     len(events)), events)

            seq = self.spool.append(body, n, self._state(keep=self._pending))
            self.events += n
            self.batches += 1
            self._position = (seq, watermark)
        self._first_at = None
        self._saved_at = now
        self.shipper.wake()

    def _watermark(self, now: float) -> float | None:
        """No event older than this will be released any more (``None``: every input is
        quiet, so nothing is promised)."""
        point = self.inputs.merge.safe_point(now)
        return None if point == float("inf") else point

    def _state(self, keep: Iterable[Event] = ()) -> SensorState:
        self.dead_letter.sync()
        held = [e.to_record() for e in (*keep, *self.inputs.held())]
        return SensorState(self.inputs.positions(), held, self.dead_letter.size())

    def _spool_full(self) -> bool:
        _, size = self.spool.depth()
        full = size >= self.settings.spool_max_bytes
        if full != self.paused:
            self.paused = full
            if full:
                log.warning("the spool holds %d bytes (sensor.spool_max_bytes): reading "
                            "paused until the engine takes batches again", size)
            else:
                log.warning("the engine takes batches again: reading resumed")
        return full


class SensorCollector(Collector):
    """The sensor's numbers for Prometheus: events shipped, spool depth, errors."""

    def __init__(self, runner: SensorRunner) -> None:
        self.runner = runner

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        r, s = self.runner, self.runner.shipper.status
        batches, size = r.spool.depth()
        yield CounterMetricFamily("phiwatch_sensor_events_spooled", "Events cut into batches",
                                  value=r.events)
        yield CounterMetricFamily("phiwatch_sensor_events_shipped",
                                  "Events the engine acknowledged", value=s.events_shipped)
        yield CounterMetricFamily("phiwatch_sensor_batches_refused",
                                  "Batches the engine refused (kept in dead-letter/refused)",
                                  value=s.batches_refused)
        yield CounterMetricFamily("phiwatch_sensor_retries", "Failed sends, retried",
                                  value=s.retries)
        yield GaugeMetricFamily("phiwatch_sensor_spool_batches", "Batches waiting to be shipped",
                                value=batches)
        yield GaugeMetricFamily("phiwatch_sensor_spool_bytes", "Bytes waiting to be shipped",
                                value=size)
        yield GaugeMetricFamily("phiwatch_sensor_reading_paused",
                                "1 while the spool is full and reading waits",
                                value=1.0 if r.paused else 0.0)
        if s.last_ack is not None:
            yield GaugeMetricFamily("phiwatch_sensor_last_ack_timestamp_seconds",
                                    "When the engine last acknowledged", value=s.last_ack)
        dead = CounterMetricFamily("phiwatch_dead_letters", "Records set aside, by kind",
                                   labels=["kind"])
        for kind, n in sorted(r.dead_letter.counts.items()):
            dead.add_metric([kind], n)
        yield dead
