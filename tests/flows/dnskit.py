"""Generated DNS messages for the DNS tests: names with odd bytes and compression, records
of every kind, counts that lie; and the same damaged at random."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

HEAD = struct.Struct("!HHHHHH")

_LABEL = st.binary(min_size=1, max_size=12) | st.sampled_from(
    [b"www", b"his", b"a" * 63, b"a.b", b"\xff\x80", b"x" * 70]
)
_NAME = st.lists(_LABEL, max_size=5)
#: Addresses, names, TXT/NULL, scapy's own classes (MX, SOA, SRV, OPT, RRSIG, SVCB …), any.
_TYPES = st.sampled_from([1, 28, 2, 5, 12, 39, 3, 16, 10, 15, 6, 33, 41, 46, 64, 65, 99])
_TYPES |= st.integers(0, 65535)


class _Writer:
    """A message under construction, compressing names against what it already holds."""

    def __init__(self) -> None:
        self.buf = bytearray(12)
        self.seen: dict[tuple[bytes, ...], int] = {}

    def name(self, labels: list[bytes], compress: bool, into: bytearray | None = None) -> bytes:
        out = bytearray()
        base = len(self.buf) if into is None else len(self.buf) + len(into)
        for i in range(len(labels)):
            suffix = tuple(labels[i:])
            if compress and suffix in self.seen:
                out += struct.pack("!H", 0xC000 | self.seen[suffix])
                return bytes(out)
            if base + len(out) < 0x3FFF:
                self.seen.setdefault(suffix, base + len(out))
            out += bytes([len(labels[i]) & 0xFF]) + labels[i][:63]
        return bytes(out + b"\0")


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    w = _Writer()
    compress = draw(st.booleans())
    names = [draw(_NAME) for _ in range(3)]
    questions = draw(st.integers(0, 2))
    for _ in range(questions):
        w.buf += w.name(draw(st.sampled_from(names)), compress)
        w.buf += struct.pack("!HH", draw(_TYPES), draw(st.sampled_from([1, 3, 255, 0x8001])))
    records = draw(st.lists(st.tuples(_TYPES, st.integers(0, 2**32 - 1)), max_size=4))
    for rtype, ttl in records:
        w.buf += w.name(draw(st.sampled_from(names)), compress)
        if rtype in (2, 3, 4, 5, 12, 39) and draw(st.booleans()):
            rdata = bytearray()
            rdata += w.name(draw(st.sampled_from(names)), compress, into=bytearray(10))
        elif rtype in (1, 28) and draw(st.booleans()):
            rdata = bytearray(draw(st.binary(min_size=4, max_size=4) if rtype == 1 else
                                   st.binary(min_size=16, max_size=16)))  # fmt: skip
        else:
            rdata = bytearray(draw(st.binary(max_size=24)))
        w.buf += struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
    answers = draw(st.integers(0, len(records)))
    authority = draw(st.integers(0, len(records) - answers))
    counts = [questions, answers, authority, len(records) - answers - authority]
    if draw(st.integers(0, 9)) == 0:  # counts that lie
        counts[draw(st.integers(0, 3))] = draw(st.integers(0, 5))
    flags = draw(st.integers(0, 0xFFFF)) | (0x8000 if draw(st.booleans()) else 0)
    w.buf[:12] = HEAD.pack(draw(st.integers(0, 0xFFFF)), flags, *counts)
    return bytes(w.buf)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(messages()))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 3))
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 0 and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == 1:
            del data[max(where, 12) :]
        elif kind == 2:
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        elif len(data) > 13:
            data[where : where + 2] = struct.pack("!H", 0xC000 | draw(st.integers(0, len(data))))
    return bytes(data)
