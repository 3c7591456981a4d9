"""The engine's input from remote sensors: the ingest journal read as one split per stream.

A sensor releases its events in event time (its own merge), so its split needs no
out-of-order allowance; its batches and heartbeats carry its *watermark* (nothing older
will follow), which moves the split's frontier even when it sends no events, exactly as
Flink propagates a source's watermark. A sensor that says its inputs are quiet, or that
has not been heard of for ``ingest.idle_timeout_seconds``, stops holding the other inputs
back; its events that then arrive later than the engine's lateness are dead-lettered
as late (counted, never silently dropped).

How far each stream has been read is part of the engine's snapshot (``positions``);
batches before that are pruned from the journal once the snapshot is saved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sensors.merge import EventTimeMerge
from sensors.remote.journal import (
    IngestJournal,
    StreamInfo,
    StreamKey,
    events_of,
    stream_name,
)
from sensors.split import Split

log = logging.getLogger(__name__)

#: How often the journal's list of streams is read (wall-clock seconds).
STREAMS_INTERVAL = 0.2


class RemoteSource:
    """Every remote sensor stream in the journal, as splits of ``merge``."""

    def __init__(
        self,
        journal_path: Path,
        merge: EventTimeMerge,
        new_split: Callable[[str], Split],
        *,
        positions: Mapping[str, int] | None = None,
    ) -> None:
        self.journal = IngestJournal(journal_path)
        self._merge = merge
        self._new_split = new_split
        #: Stream → the sequence number of the last batch read into its split.
        self.consumed: dict[StreamKey, int] = {}
        for name, seq in (positions or {}).items():
            sensor, _, stream = name.rpartition("/")
            self.consumed[(sensor, stream)] = int(seq)
        self._splits: dict[StreamKey, Split] = {}
        self._seen: dict[StreamKey, float] = {}
        self._streams_at = float("-inf")
        self._streams: list[StreamInfo] = []
        self.events_in: dict[str, int] = {}
        self.gaps: dict[str, int] = {}

    def fill(self, max_events: int, now: float | None = None) -> int:
        """Read new batches into the streams' splits; returns the events read."""
        now = time.monotonic() if now is None else now
        if now - self._streams_at >= STREAMS_INTERVAL:
            self._streams = self.journal.streams()
            self._streams_at = now
        got = 0
        for info in self._streams:
            key = info.key
            split = self._split(key, now)
            after = self.consumed.get(key, 0)
            if info.last_seq > after and got < max_events:
                for batch in self.journal.read(key, after, limit=64):
                    events = events_of(batch, info.sensor)
                    split.add(events, now)
                    got += len(events)
                    self.events_in[info.sensor] = self.events_in.get(info.sensor, 0) + len(events)
                    after = self.consumed[key] = batch.seq
                    split.constrains = batch.watermark is not None
                    if batch.watermark is not None:
                        split.max_seen = max(split.max_seen, batch.watermark)
                    if got >= max_events:
                        break
                self._streams_at = float("-inf")  # more may be waiting: look again soon
            if info.through_seq <= after and info.last_seen != self._seen.get(key):
                # A heartbeat (or a batch) heard since last time: the sensor is alive.
                self._seen[key] = info.last_seen
                split.last_delivery = now
                split.constrains = info.watermark is not None
                if info.watermark is not None:
                    split.max_seen = max(split.max_seen, info.watermark)
            if info.gaps and self.gaps.get(info.sensor) != info.gaps:
                self.gaps[info.sensor] = info.gaps
                log.warning("sensor %s skipped %d batch number(s) in stream %s: batches it "
                            "refused to resend or lost with its spool", info.sensor,
                            info.gaps, info.stream)
        return got

    def _split(self, key: StreamKey, now: float) -> Split:
        split = self._splits.get(key)
        if split is None:
            split = self._new_split(f"sensor {stream_name(key)}")
            split.last_delivery = now
            self._splits[key] = split
            self._merge.add(split)
        return split

    def positions(self) -> dict[str, int]:
        return {stream_name(k): seq for k, seq in self.consumed.items()}

    def prune(self) -> int:
        """After a snapshot that records ``positions()``: drop what it has read past."""
        return self.journal.prune(self.consumed)

    def close(self) -> None:
        self.journal.close()
