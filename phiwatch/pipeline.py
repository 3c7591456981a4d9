"""Wires the stages: sensor events → rule engine → alert store.

``Processor`` is the shared middle: it feeds events to the engine, dead-letters events that
arrive later than the engine's bounded lateness, and commits the alerts. ``replay`` drives
it from whole files as fast as possible, in event-time order; ``phiwatch.runner`` drives it
from live tails.
"""

from __future__ import annotations

import gc
import heapq
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatch
from operator import attrgetter
from pathlib import Path

import orjson

from alerting.grouping import IncidentGrouper
from alerting.incident_store import IncidentStore
from alerting.store import AlertStore
from phiwatch.config import Config, SourceConfig
from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.context import Context, Enricher
from sensors.deadletter import DeadLetter
from sensors.event import Event
from sensors.parsers import ParseError, RecordParser, parser_for
from sensors.tailer import Tailer

log = logging.getLogger(__name__)


def relax_gc() -> None:
    """Make Python's cyclic garbage collector run rarely, for the event loop.

    The pipeline allocates millions of short-lived objects (events, their field dicts,
    window entries) that never form cycles, while the rule engine keeps a large, growing
    state. With the default thresholds the collector ran thousands of times a second,
    rescanning that state: measured, about 20 % of replay time. Objects that exist at
    start-up (pySigma, the compiled rules) are frozen out of collection; cycles are still
    collected, just less often.
    """
    gc.freeze()
    gc.set_threshold(200_000, 20, 50)


def load_context(config: Config) -> Context | None:
    """The hospital's context files, loaded; ``None`` when none is configured."""
    if not config.context.files():
        return None
    ctx_config = config.context
    if "internal_networks" not in ctx_config.model_fields_set:
        # One list of the hospital's networks: `network.internal` unless set here too.
        ctx_config = ctx_config.model_copy(update={"internal_networks": config.network.internal})
    context = Context(ctx_config, config.timezone)
    context.load_all()
    for kind, status in context.status.items():
        if status.last_error:
            log.warning("context file %s not loaded: %s", kind, status.last_error)
    return context


def build_grouper(config: Config, store: AlertStore) -> IncidentGrouper | None:
    """The incident grouper over ``store``, if the store keeps incidents."""
    if not isinstance(store, IncidentStore):
        return None
    return IncidentGrouper(store, timedelta(hours=config.incidents.gap_hours))


def build_engine(config: Config, ruleset: RuleSet | None = None) -> Engine:
    """The engine over the configured rules; broken rules are logged and left out."""
    if ruleset is None:
        ruleset = load_rules(config.rules.paths)
    for error in ruleset.errors:
        log.warning("rule not loaded: %s", error)
    return Engine(
        ruleset,
        lateness_seconds=config.rules.lateness_seconds,
        sample_size=config.rules.sample_size,
        # Sweeping closes finished episodes and frees idle windows; its timing changes no
        # alert (tested), so it runs every 10 s of event time rather than every second.
        sweep_seconds=10.0,
    )


def parser_factory(config: Config, source: SourceConfig) -> Callable[[str], RecordParser]:
    """A function giving each file its own parser (CSV parsers hold the header)."""
    parse = source.parse
    if getattr(parse, "timezone", None) is None and hasattr(parse, "timezone"):
        parse = parse.model_copy(update={"timezone": config.timezone})
    if getattr(parse, "organization_id", None) is None and hasattr(parse, "organization_id"):
        parse = parse.model_copy(update={"organization_id": config.organization.id})
    return lambda path: parser_for(parse, Path(path))


@dataclass
class Processor:
    """Events in, alerts committed; counts what it did."""

    engine: Engine
    store: AlertStore
    dead_letter: DeadLetter
    on_alert: Callable[[Alert], None] | None = None
    #: Adds what the hospital's context files know (roster, encounters …) before the rules.
    enrich: Callable[[Event], None] | None = None
    #: Groups committed alerts into incidents (in the same store).
    grouper: IncidentGrouper | None = None
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
                grouped = self.grouper.add(alerts)
                self.counters["incidents_new"] += grouped.created
            except Exception as e:  # the store is away: the grouper keeps them pending
                log.warning("alerts not grouped into incidents yet (%s); will retry", e)
        if self.on_alert is not None:
            for a in alerts:
                self.on_alert(a)

    def _dead_late(self, event: Event) -> None:
        path, _, line = event.ref.rpartition(":")
        self.dead_letter.write(
            source=path or event.ref,
            line=int(line) if line.isdigit() else 0,
            offset=-1,
            reason=(
                f"event at {event.timestamp.isoformat()} is older than the watermark "
                f"(more than {self.engine.lateness_seconds:g} s behind the newest event)"
            ),
            raw=orjson.dumps(event.nested()),
            kind="late",
        )


# -- replay ----------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    files: int
    events: int
    alerts: int
    new_alerts: int
    dead_letters: dict[str, int]
    rule_errors: int


def source_for(config: Config, path: Path) -> SourceConfig:
    """The configured source whose globs match ``path``; else the first; else JSON lines."""
    for source in config.sources:
        if any(fnmatch(str(path.resolve()), g) or fnmatch(path.name, Path(g).name)
               for g in source.paths):
            return source
    if config.sources:
        return config.sources[0]
    return SourceConfig(paths=[str(path)])


def file_events(
    path: Path, parser: RecordParser, dead_letter: DeadLetter, progress: Callable[[int], None]
) -> Iterator[Event]:
    """Every event of one complete file, in file order; bad lines go to ``dead_letter``."""
    name = str(path)
    if getattr(parser, "document", False):  # one whole document (a FHIR Bundle file)
        data = path.read_bytes()
        progress(len(data))
        try:
            yield from sorted(parser.parse_document(data, f"{name}:1"),  # type: ignore[attr-defined]
                              key=attrgetter("epoch"))
        except ParseError as e:
            dead_letter.write(source=name, line=1, offset=0, reason=e.reason, field=e.field,
                              raw=data)
        return
    tailer = Tailer.open(str(path), None, dead_letter, max_line_bytes=1 << 20)
    reported = 0
    try:
        while True:
            lines = tailer.read(5000)
            if not lines:
                lines = tailer.flush_partial()  # the file is complete: its last line is too
                if not lines:
                    break
            progress(tailer.bytes_read - reported)
            reported = tailer.bytes_read
            for line in lines:
                try:
                    yield from parser.parse(line.data, f"{name}:{line.number}")
                except ParseError as e:
                    dead_letter.write(source=name, line=line.number, offset=line.offset,
                                      reason=e.reason, field=e.field, raw=line.data)
                except Exception as e:  # a parser bug must not stop the replay
                    dead_letter.write(source=name, line=line.number, offset=line.offset,
                                      reason=f"internal parser error: {type(e).__name__}: {e}",
                                      raw=line.data, kind="parser_bug")
    finally:
        tailer.close()


_CAPTURE_MAGIC = (
    b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)


def is_capture(path: Path) -> bool:
    """Whether ``path`` is a pcap or pcapng file (by its magic number, not its name)."""
    with open(path, "rb") as f:
        return f.read(4) in _CAPTURE_MAGIC


def capture_events(
    path: Path, progress: Callable[[int], None], config: Config
) -> Iterator[Event]:
    """Flow and DNS events of a capture, in event-time order, tagged by the network model.

    The flow table emits a flow when it ends but stamps it with its start, so the events
    are sorted before they are tagged (DNS answers before the flows that use their names)
    and merged with the other files.
    """
    from sensors.flows import FlowReader, NetworkTagger

    tag = NetworkTagger(config.network).tag
    events = sorted(FlowReader(path), key=attrgetter("epoch"))
    progress(path.stat().st_size)
    for event in events:
        tag(event)
        yield event


def replay(
    config: Config,
    paths: Sequence[Path],
    store: AlertStore,
    *,
    progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
) -> ReplayReport:
    """Process ``paths`` to their end, merged in event-time order, with a fresh engine.

    A replay keeps no state between runs, so replaying the same files again raises the
    same alerts with the same ids and the store's count does not change.
    """
    ruleset = load_rules(config.rules.paths)
    engine = engine or build_engine(config, ruleset)
    relax_gc()
    dead_dir = config.dead_letter_dir
    dead_dir.mkdir(parents=True, exist_ok=True)
    dead_path = dead_dir / "replay.ndjson"
    dead_path.unlink(missing_ok=True)  # one replay's dead letters, not every replay's
    dead = DeadLetter(dead_path)
    tick = progress or (lambda n: None)
    streams = []
    for p in paths:
        if is_capture(p):
            streams.append(capture_events(p, tick, config))
            continue
        factory = parser_factory(config, source_for(config, p))
        streams.append(file_events(p, factory(str(p)), dead, tick))
    context = load_context(config)
    processor = Processor(engine, store, dead,
                          enrich=Enricher(context).enrich if context is not None else None,
                          grouper=build_grouper(config, store))
    batch: list[Event] = []
    size = config.pipeline.batch_size
    # One file is already in its own order; merging costs a heap operation per event.
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=attrgetter("epoch"))
    for event in merged:
        batch.append(event)
        if len(batch) >= size:
            processor.process(batch)
            batch.clear()
    processor.process(batch)
    processor.commit(engine.flush())
    dead.close()
    c = processor.counters
    return ReplayReport(
        files=len(paths),
        events=c["events"],
        alerts=c["alerts_raised"],
        new_alerts=c["alerts_new"],
        dead_letters=dict(dead.counts),
        rule_errors=len(ruleset.errors),
    )
