"""Every input of a pipeline, read the same way by ``run``, ``replay`` and ``rules test``.

``Inputs`` holds one ``FileSource`` per configured source (or per file named on the
command line), the live network inputs, and the ``EventTimeMerge`` over all their splits.
It hands out batches of events in event time:

- ``batches()`` (replay, rules test): files are complete; the split that holds the merge
  back is read first, so memory stays bounded whatever the files' sizes and overlap;
- ``step()`` (run): what the files and live inputs hold now, as far as event time allows.

Events that may not enter (far ahead of their file, or of the wall clock in ``run``) are
quarantined to the dead-letter file with their reason.
"""

from __future__ import annotations

import glob as globs
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from phiwatch.config import Config, SourceConfig
from sensors.checkpoint import Checkpoint, FilePosition
from sensors.deadletter import DeadLetter
from sensors.event import Event
from sensors.file_source import FileSource
from sensors.flows.inputs import FlowInputs
from sensors.formats import FileParser, FormatConfig, format_named, sniff
from sensors.merge import EventTimeMerge
from sensors.remote.source import RemoteSource
from sensors.split import Split

log = logging.getLogger(__name__)

#: Events a split may hold while the merge waits for another one (bounded memory).
MAX_PENDING = 50_000


def opener(config: Config, parse: FormatConfig) -> Callable[[str], FileParser]:
    """A function giving each file its own parser (CSV parsers hold the header), with the
    configuration's zone and organization where the source leaves them out."""
    update: dict[str, object] = {}
    if parse.timezone is None:
        update["timezone"] = config.timezone
    if parse.organization_id is None:
        update["organization_id"] = config.organization.id
    if update:
        parse = parse.model_copy(update=update)
    fmt = format_named(parse.format)
    return lambda path: fmt.open(parse, path)


def source_for(config: Config, path: Path) -> SourceConfig:
    """How to read a file named on the command line: the configured source whose globs
    match it, else the format its first bytes show, else canonical JSON lines."""
    resolved = str(path.resolve())
    for source in config.sources:
        if any(fnmatch(resolved, g) or fnmatch(path.name, Path(g).name) for g in source.paths):
            return source
    with open(path, "rb") as f:
        head = f.read(4096)
    guessed = sniff(head)
    if guessed is not None:
        return SourceConfig(name=guessed.format, paths=[str(path)], parse=guessed)
    if config.sources:
        return config.sources[0]
    return SourceConfig(paths=[str(path)])


@dataclass
class Inputs:
    """The sources, live inputs and merge of one pipeline."""

    config: Config
    dead_letter: DeadLetter
    live: bool
    merge: EventTimeMerge = field(init=False)
    sources: dict[str, FileSource] = field(default_factory=dict)
    flows: FlowInputs | None = None
    flow_split: Split | None = None
    #: Remote sensors' batches from the ingest journal (``ingest.enabled``).
    remote: RemoteSource | None = None
    quarantined: int = 0

    def __post_init__(self) -> None:
        self.merge = EventTimeMerge(live=self.live)

    # -- building --------------------------------------------------------------------------

    def _split_factory(self, source: SourceConfig) -> Callable[[str], Split]:
        pipeline = self.config.pipeline

        def new_split(path: str) -> Split:
            return Split(path, bound=source.out_of_order_seconds,
                         idle_timeout=source.idle_timeout_seconds,
                         max_jump=pipeline.max_jump_seconds, quarantine=self._quarantine,
                         horizon=(time.time() + pipeline.max_clock_skew_seconds if self.live
                                  else float("inf")))

        return new_split

    def add_source(self, source: SourceConfig, *, globs_: Sequence[str] | None = None,
                   positions: list[FilePosition] | None = None, finite: bool = False,
                   start_at_end: bool = False) -> FileSource:
        """Read ``source`` (its globs, or ``globs_`` instead) from ``positions``."""
        fs = FileSource(
            globs_ if globs_ is not None else source.paths,
            opener(self.config, source.parse), self.dead_letter, Checkpoint(positions or []),
            new_split=self._split_factory(source), on_split=self.merge.add,
            exclude=source.exclude, start_at_end=start_at_end,
            max_line_bytes=source.max_line_bytes, rotate_wait=source.rotate_wait_seconds,
            finite=finite,
        )
        name = source.name
        while name in self.sources:  # files of one kind given separately on a command line
            name += "+"
        self.sources[name] = fs
        return fs

    def add_files(self, paths: Sequence[Path]) -> None:
        """Complete files named on the command line, each read through its source's format
        (or the one its content shows)."""
        for path in paths:
            self.add_source(source_for(self.config, path),
                            globs_=[globs.escape(str(path.resolve()))], finite=True)

    def add_flows(self) -> None:
        """The live network inputs of ``flows:`` (capture, NetFlow), as one split that
        does not hold the files back (``Split.constrains``); their delay is bounded by the
        capture timeouts, which the configuration keeps within ``rules.lateness_seconds``."""
        if not self.config.flows:
            return
        self.flows = FlowInputs(list(self.config.flows))
        self.flow_split = self.merge.add(Split(
            "flows", constrains=False, max_jump=self.config.pipeline.max_jump_seconds,
            quarantine=self._quarantine,
            horizon=time.time() + self.config.pipeline.max_clock_skew_seconds))

    def add_remote(self, positions: dict[str, int] | None = None) -> None:
        """The remote sensors' streams of the ingest journal, each a split that waits for
        its sensor's watermark, or for ``ingest.idle_timeout_seconds`` of its silence."""
        pipeline = self.config.pipeline

        def new_split(name: str) -> Split:
            return Split(name, idle_timeout=self.config.ingest.idle_timeout_seconds,
                         max_jump=pipeline.max_jump_seconds, quarantine=self._quarantine,
                         horizon=time.time() + pipeline.max_clock_skew_seconds)

        self.remote = RemoteSource(self.config.ingest_path, self.merge, new_split,
                                   positions=positions)

    def scan(self) -> None:
        for source in self.sources.values():
            source.scan()

    def _quarantine(self, event: Event, reason: str) -> None:
        self.quarantined += 1
        log.warning("quarantined an event of %s: %s", event.ref, reason)
        path, _, line = event.ref.rpartition(":")
        self.dead_letter.write(source=path or event.ref,
                               line=int(line) if line.isdigit() else 0,
                               offset=event.offset, reason=reason,
                               raw=original_line(event), kind="quarantine")

    # -- reading ---------------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[list[Event]]:
        """Every event of complete files, in event time, in batches of about ``size``."""
        self.scan()
        merge = self.merge
        while True:
            released = merge.release(0.0)
            for i in range(0, len(released), size):
                yield released[i:i + size]
            merge.remove_finished()
            lagging = merge.lagging(0.0)
            if lagging is None:
                return
            if lagging.pull is None:  # nothing reads it: it can only end
                lagging.finish()
                continue
            lagging.pull(size)

    def step(self, size: int) -> tuple[int, list[Event]]:
        """``run``: read what the inputs hold now; release what event time allows.
        Returns the number of records read and the events released."""
        now = time.monotonic()
        horizon = time.time() + self.config.pipeline.max_clock_skew_seconds
        for split in self.merge.splits:
            split.horizon = horizon
        got = 0
        for source in self.sources.values():
            got += source.fill(size, MAX_PENDING)
        if self.flows is not None and self.flow_split is not None:
            events = self.flows.drain(size)
            got += len(events)
            self.flow_split.add(events, now)
        if self.remote is not None:
            got += self.remote.fill(size, now)
        self._settle_idle(now)
        released = self.merge.release(now)
        self.merge.remove_finished()
        return got, released

    def _settle_idle(self, now: float) -> None:
        """A quiet split whose held events were never confirmed or refuted: those within
        the allowed skew of the wall clock were a real jump (a quiet spell ended)."""
        skew = self.config.pipeline.max_clock_skew_seconds
        wall = time.time()
        for split in self.merge.splits:
            if split.probation and now - split.last_delivery >= split.idle_timeout:
                if all(e.epoch <= wall + skew for e in split.probation):
                    split.accept_probation()
                else:
                    split.reject_probation("stamped ahead of the wall clock")

    # -- state -----------------------------------------------------------------------------

    @property
    def bytes_read(self) -> int:
        return sum(s.bytes_read for s in self.sources.values())

    def positions(self) -> list[dict[str, object]]:
        return [{"source": name, **p.to_dict()}
                for name, src in self.sources.items() for p in src.positions()]

    def held(self) -> list[Event]:
        """Events read but not yet released (they go into a snapshot)."""
        return [e for s in self.merge.splits for e in (*s.pending, *s.probation)]

    def close(self) -> None:
        if self.flows is not None:
            self.flows.close()
        if self.remote is not None:
            self.remote.close()
        for source in self.sources.values():
            source.close()


def original_line(event: Event, limit: int = 1 << 20) -> bytes:
    """The record behind ``event`` as it is in its file (read back at its offset), or the
    event as JSON when the file or the offset is gone."""
    import orjson

    path, _, _ = event.ref.rpartition(":")
    if event.offset >= 0 and path:
        try:
            with open(path, "rb") as f:
                f.seek(event.offset)
                data = f.readline(limit)
            return data.rstrip(b"\r\n")
        except OSError:
            pass
    return orjson.dumps(event.nested())
