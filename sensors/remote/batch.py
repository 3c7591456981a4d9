"""The wire format between a remote sensor and the engine: one gzip'd NDJSON batch.

The first line is the batch's header, the others are events (``Event.to_record``)::

    {"phiwatch": "batch/1", "sensor": "his-app-01", "stream": "9f…", "seq": 42,
     "watermark": 1795310100.5, "count": 2}
    {"t": 1795310100.1, "f": {"event.dataset": "his.access", …}, "r": "…", "i": "…", "o": 0}
    …

``stream`` is chosen by the sensor when its spool is created and ``seq`` counts that
spool's batches from 1: (sensor, stream, seq) names a batch for ever, so the engine
records a batch sent twice once. ``watermark`` says that no event older than it will
follow from this sensor (``null``: the sensor's inputs are all quiet).

The engine decodes a batch as hostile input: sizes are bounded before and during
decompression, every record is checked for shape, and the first problem is reported
with its line and field (``BatchError``); nothing of a refused batch is kept.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from sensors.errors import InputError
from sensors.event import Event

FORMAT = "batch/1"
CONTENT_TYPE = "application/x-ndjson"

#: Bounds on one event of a batch: the parsers never produce more, a forger gets no more.
MAX_FIELDS = 512
MAX_NAME_CHARS = 256
MAX_REF_CHARS = 4096
MAX_ID_CHARS = 256
MAX_SENSOR_CHARS = 128
#: Event times a batch may carry: 1990 to 2100 (a wrong clock, not a crash).
MIN_EPOCH, MAX_EPOCH = 631_152_000.0, 4_102_444_800.0


class BatchError(InputError):
    """A batch the engine cannot take as it is; names the line (1: the header) and field."""


@dataclass(frozen=True, slots=True)
class Header:
    sensor: str
    stream: str
    seq: int
    watermark: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"phiwatch": FORMAT, "sensor": self.sensor, "stream": self.stream,
                "seq": self.seq, "watermark": self.watermark, "count": self.count}


@dataclass(frozen=True, slots=True)
class Batch:
    header: Header
    events: list[Event]


def encode(header: Header, events: Sequence[Event]) -> bytes:
    """The gzip'd body of one batch (level 6: a third of the size of level 1 for logs, at
    a cost a sensor does not notice)."""
    lines = [orjson.dumps(header.to_dict())]
    lines.extend(orjson.dumps(e.to_record()) for e in events)
    return gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6, mtime=0)


def decompress(body: bytes, *, max_bytes: int) -> bytes:
    """``body`` un-gzip'd, refusing more than ``max_bytes`` of output (a gzip bomb) and
    anything that is not one complete gzip stream."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as e:
        raise BatchError(f"the body is not gzip data ({e})", line=0) from None
    if len(data) > max_bytes:
        raise BatchError(f"the batch decompresses to more than {max_bytes:,} bytes",
                         line=0, hint="send smaller batches (sensor.batch_max_events)")
    if not inflater.eof:
        raise BatchError("the gzip data is cut short", line=0)
    return data


def decode(body: bytes, *, max_bytes: int, source: str = "batch") -> Batch:
    """Check and read a batch's body (gzip'd NDJSON)."""
    lines = decompress(body, max_bytes=max_bytes).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise BatchError("the batch is empty (no header line)", file=source, line=1)
    header = _header(lines[0], source)
    if header.count != len(lines) - 1:
        raise BatchError(f"the header announces {header.count} event(s), the batch holds "
                         f"{len(lines) - 1}", file=source, line=1, key="count")
    events = [_event(line, source, n) for n, line in enumerate(lines[1:], start=2)]
    return Batch(header, events)


def _load(line: bytes, source: str, n: int) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise BatchError(f"not JSON ({e})", file=source, line=n) from None
    if not isinstance(value, dict):
        raise BatchError("expected a JSON object", file=source, line=n)
    return value


def _header(line: bytes, source: str) -> Header:
    d = _load(line, source, 1)
    if d.get("phiwatch") != FORMAT:
        raise BatchError(f"not a phiwatch batch (expected \"phiwatch\": \"{FORMAT}\")",
                         file=source, line=1, key="phiwatch")
    sensor, stream, seq = d.get("sensor"), d.get("stream"), d.get("seq")
    if not isinstance(sensor, str) or not 0 < len(sensor) <= MAX_SENSOR_CHARS:
        raise BatchError("expected the sensor's name", file=source, line=1, key="sensor")
    if not isinstance(stream, str) or not 0 < len(stream) <= 64 or not stream.isalnum():
        raise BatchError("expected the spool's stream id (letters and digits)", file=source,
                         line=1, key="stream")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**62:
        raise BatchError("expected a positive sequence number", file=source, line=1,
                         key="seq")
    count = d.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise BatchError("expected the number of events", file=source, line=1, key="count")
    wm = d.get("watermark")
    if wm is not None and not _epoch(wm):
        raise BatchError("expected an event time (seconds since 1970) or null",
                         file=source, line=1, key="watermark")
    return Header(sensor, stream, seq, None if wm is None else float(wm), count)


def _epoch(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and MIN_EPOCH <= v <= MAX_EPOCH)


def _event(line: bytes, source: str, n: int) -> Event:
    d = _load(line, source, n)
    t, fields, ref, eid = d.get("t"), d.get("f"), d.get("r"), d.get("i")
    offset = d.get("o", -1)
    if not _epoch(t):
        raise BatchError("expected an event time between 1990 and 2100", file=source,
                         line=n, key="t")
    assert isinstance(t, (int, float))
    if not isinstance(fields, dict) or len(fields) > MAX_FIELDS:
        raise BatchError(f"expected an object of at most {MAX_FIELDS} fields",
                         file=source, line=n, key="f")
    for name in fields:
        if not 0 < len(name) <= MAX_NAME_CHARS:
            raise BatchError("a field name is empty or too long", file=source, line=n,
                             key="f")
    if not isinstance(ref, str) or len(ref) > MAX_REF_CHARS:
        raise BatchError("expected the event's origin (file:line)", file=source, line=n,
                         key="r")
    if not isinstance(eid, str) or not 0 < len(eid) <= MAX_ID_CHARS:
        raise BatchError("expected the event's id", file=source, line=n, key="i")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise BatchError("expected a byte offset", file=source, line=n, key="o")
    event = Event(datetime.fromtimestamp(float(t), UTC), fields, ref, eid)
    event.epoch = float(t)
    return event
