"""The batch wire format: what a sensor encodes the engine decodes unchanged; anything
else is a ``BatchError`` naming the line and field, never another exception."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.event import Event
from sensors.remote.batch import BatchError, Header, decode, encode

T0 = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)
LIMIT = 1 << 20


def event(i: int) -> Event:
    e = Event(T0, {"event.dataset": "his.access", "user.id": f"nv{i:03d}",
                   "patient.id": f"BN{i:08d}", "his.record_count": i,
                   "user.roles": ["nurse"], "phiwatch.access.justified": False},
              f"/var/log/his/access.log:{i + 1}", f"id-{i}")
    e.epoch += i * 0.25
    e.offset = i * 100
    return e


def header(count: int, seq: int = 1, watermark: float | None = 1795310100.0) -> Header:
    return Header("his-app-01", "9f00aa", seq, watermark, count)


def test_round_trip() -> None:
    events = [event(i) for i in range(50)]
    batch = decode(encode(header(50), events), max_bytes=LIMIT)
    assert batch.header == header(50)
    assert [(e.epoch, e.fields, e.ref, e.id) for e in batch.events] == [
        (e.epoch, e.fields, e.ref, e.id) for e in events]


def test_an_empty_batch_and_a_null_watermark() -> None:
    batch = decode(encode(header(0, watermark=None), []), max_bytes=LIMIT)
    assert batch.events == [] and batch.header.watermark is None


def raw(lines: list[object]) -> bytes:
    return gzip.compress(b"\n".join(
        x if isinstance(x, bytes) else orjson.dumps(x) for x in lines) + b"\n")


GOOD_HEADER = header(1).to_dict()
GOOD = event(1).to_record()


@pytest.mark.parametrize("lines, line, key", [
    ([{**GOOD_HEADER, "phiwatch": "batch/9"}, GOOD], 1, "phiwatch"),
    ([{**GOOD_HEADER, "sensor": ""}, GOOD], 1, "sensor"),
    ([{**GOOD_HEADER, "stream": "../../etc"}, GOOD], 1, "stream"),
    ([{**GOOD_HEADER, "seq": 0}, GOOD], 1, "seq"),
    ([{**GOOD_HEADER, "seq": True}, GOOD], 1, "seq"),
    ([{**GOOD_HEADER, "watermark": 1e20}, GOOD], 1, "watermark"),
    ([{**GOOD_HEADER, "count": 2}, GOOD], 1, "count"),
    ([GOOD_HEADER, {**GOOD, "t": "yesterday"}], 2, "t"),
    ([GOOD_HEADER, {**GOOD, "t": 1e300}], 2, "t"),
    ([GOOD_HEADER, {**GOOD, "f": ["not", "an", "object"]}], 2, "f"),
    ([GOOD_HEADER, {**GOOD, "f": {f"x.{i}": i for i in range(600)}}], 2, "f"),
    ([GOOD_HEADER, {**GOOD, "f": {"": 1}}], 2, "f"),
    ([GOOD_HEADER, {**GOOD, "r": 5}], 2, "r"),
    ([GOOD_HEADER, {**GOOD, "i": ""}], 2, "i"),
    ([GOOD_HEADER, {**GOOD, "o": "zero"}], 2, "o"),
    ([GOOD_HEADER, b"{not json"], 2, None),
    ([GOOD_HEADER, b"[1, 2]"], 2, None),
])  # fmt: skip
def test_bad_batches_name_the_line_and_field(lines: list[object], line: int,
                                             key: str | None) -> None:
    with pytest.raises(BatchError) as e:
        decode(raw(lines), max_bytes=LIMIT, source="batch 7")
    assert (e.value.line, e.value.key, e.value.file) == (line, key, "batch 7")


def test_not_gzip_cut_short_and_a_gzip_bomb() -> None:
    with pytest.raises(BatchError, match="not gzip"):
        decode(b"{}", max_bytes=LIMIT)
    body = encode(header(50), [event(i) for i in range(50)])
    with pytest.raises(BatchError, match="cut short"):
        decode(body[:len(body) // 2], max_bytes=LIMIT)
    bomb = gzip.compress(b"\n" * (64 << 20))  # 64 MiB of newlines in ~64 KiB
    assert len(bomb) < 200_000
    with pytest.raises(BatchError, match="decompresses to more than"):
        decode(bomb, max_bytes=LIMIT)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.binary(min_size=1, max_size=16), st.booleans())
def test_any_mangled_batch_decodes_or_is_refused(at: int, junk: bytes, compressed: bool
                                                 ) -> None:
    body = encode(header(3), [event(i) for i in range(3)])
    plain = gzip.decompress(body)
    if compressed:
        mangled = body[:at] + junk + body[at + len(junk):]
    else:
        mangled = gzip.compress(plain[:at] + junk + plain[at + len(junk):])
    try:
        batch = decode(mangled, max_bytes=LIMIT)
    except BatchError as e:
        assert e.line is not None
        return
    assert len(batch.events) == batch.header.count
