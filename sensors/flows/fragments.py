"""Tracking IP fragments: ports for later fragments, when a datagram is complete, and the
reassembly of fragmented tunnels.

Why: only the first fragment of a datagram carries the transport header, yet every
fragment belongs to the same flow; and tshark counts the layers inside a fragmented
datagram (and an IPv6 header with a fragment header at all) once, on the frame that
completes reassembly. Datagrams are keyed by ``(version, src, dst, protocol, id)``.
Fragments seen before their first fragment wait in the entry and are handed back when it
arrives (or when the entry expires).

A datagram whose first fragment shows an inner IP header is a tunnel packet (GRE, GTP-U,
VXLAN … whose outer datagram was fragmented on the way): its flow is the inner packet's,
whose headers may run past the first fragment, so it is reassembled and decoded whole,
and counts as *one* packet of the inner flow, with the wire bytes of all the frames that
carried it. Its fragments are held until then; if it never completes, they count as a
plain fragmented datagram would. The bytes of fragments that may belong to a tunnel
(tunnels, and fragments still waiting for their first) are kept until their datagram is
decided; memory is bounded by ``max_datagrams``, ``max_bytes`` and ``timeout`` seconds
of capture time.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from sensors.flows.decode import LT_RAW, Decoded, Frag, Tap, decode
from sensors.flows.tunnels import Buffer

FragKey = tuple[int, int | bytes, int | bytes, int, int]
#: A fragment waiting for its first fragment: (timestamp, wire length, frame number).
Pending = tuple[float, int, int]
#: A datagram given up: its key, its ports if its first fragment came, the frames to count.
Unfinished = tuple[FragKey, tuple[int, int] | None, list[Pending]]

_IP4 = struct.Struct("!BBHHHBBHII")
_IP6 = struct.Struct("!IHBB16s16s")


class Reassembled(NamedTuple):
    """A tunnel packet rebuilt from the fragments of its outer datagram."""

    #: The decode of ``data``: its flow layer is the inner packet.
    decoded: Decoded
    #: The outer IP header (made up: no options, not fragmented) and the datagram's bytes.
    data: bytes
    #: Wire length of all the frames that carried it.
    wirelen: int
    #: Bytes of the datagram missing from ``data`` because the capture cut a frame.
    missing: int


@dataclass(slots=True)
class _Datagram:
    """What is known so far about one fragmented datagram."""

    seen: float
    ports: tuple[int, int] | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)
    total: int = -1  # end of the last fragment once seen
    deferred: list[Tap] | None = None
    pending: list[Pending] = field(default_factory=list)
    tunnel: bool = False
    held: list[Pending] = field(default_factory=list)  # a tunnel's frames until complete
    parts: list[tuple[int, bytes]] | None = field(default_factory=list)  # None: not kept
    size: int = 0  # bytes in parts


class FragmentTracker:
    """Per-datagram fragment state, bounded in count, kept bytes and age."""

    def __init__(self, timeout: float = 60.0, max_datagrams: int = 65536,
                 max_bytes: int = 32 << 20) -> None:  # fmt: skip
        self.timeout = timeout
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self._open: OrderedDict[FragKey, _Datagram] = OrderedDict()
        self._given_up: list[Unfinished] = []
        self._kept = 0
        #: Datagrams dropped unfinished (expired or evicted).
        self.expired = 0
        #: Tunnel datagrams that could not be reassembled because ``max_bytes`` was reached.
        self.over_budget = 0

    def __len__(self) -> int:
        return len(self._open)

    def add(
        self, frag: Frag, ts: float, wirelen: int, frame: int, sport: int, dport: int,
        buf: Buffer,
    ) -> tuple[tuple[int, int] | None, list[Pending], list[Tap], Reassembled | None]:  # fmt: skip
        """Record one fragment (its frame in ``buf``).

        Returns ``(ports, released, taps, whole)``: the ports of the flow this frame counts
        in now, or None if it waits (for its first fragment, or, in a tunnel, for
        reassembly); fragments that waited and now count in that flow too; the conversation
        taps released because this frame completed the datagram; and the tunnel packet
        this frame completed, which counts in its inner flow instead.
        """
        key, start, end, more, deferred, data_start, data_end = frag
        dgm = self._open.get(key)
        if dgm is None:
            if len(self._open) >= self.max_datagrams:
                self._give_up(*self._open.popitem(last=False))
            dgm = self._open[key] = _Datagram(seen=ts)
        released: list[Pending] = []
        if start == 0 and dgm.ports is None:
            dgm.ports = (sport, dport)
            dgm.deferred = deferred
            # An IPv6 datagram's deferred taps start with its own header.
            dgm.tunnel = len(deferred) > (key[0] == 6)
            if dgm.tunnel:
                dgm.held, dgm.pending = dgm.pending, []
            else:
                released, dgm.pending = dgm.pending, []
                self._forget_bytes(dgm)
        elif dgm.ports is None:
            dgm.pending.append((ts, wirelen, frame))
        if dgm.parts is not None:
            self._keep(dgm, start, bytes(buf[data_start:data_end]))
        if not more:
            dgm.total = end
        dgm.ranges.append((start, end))
        complete = (dgm.total >= 0 and dgm.deferred is not None
                    and _covers(dgm.ranges, dgm.total))  # fmt: skip
        if not complete:
            if dgm.tunnel:
                dgm.held.append((ts, wirelen, frame))
                return None, released, [], None
            return dgm.ports, released, [], None
        del self._open[key]
        taps = dgm.deferred or []
        whole = self._reassemble(key, dgm, wirelen) if dgm.tunnel else None
        self._forget_bytes(dgm)
        if dgm.tunnel and whole is None:  # bytes not kept: a plain fragmented datagram
            released = dgm.held
        return (None if whole is not None else dgm.ports), released, taps, whole

    def expire(self, now: float) -> list[Unfinished]:
        """Drop datagrams older than the timeout; return the frames they still hold."""
        cutoff = now - self.timeout
        stale = [k for k, d in self._open.items() if d.seen < cutoff]
        for key in stale:
            self._give_up(key, self._open.pop(key))
        out, self._given_up = self._given_up, []
        return out

    def drain(self) -> list[Unfinished]:
        """At end of input: every datagram still open, given up."""
        while self._open:
            self._give_up(*self._open.popitem(last=False))
        out, self._given_up = self._given_up, []
        return out

    def _give_up(self, key: FragKey, dgm: _Datagram) -> None:
        self.expired += 1
        self._forget_bytes(dgm)
        frames = dgm.held if dgm.tunnel else dgm.pending
        if frames:
            self._given_up.append((key, dgm.ports, frames))

    def _keep(self, dgm: _Datagram, start: int, data: bytes) -> None:
        """Keep a fragment's bytes, unless that would pass ``max_bytes``."""
        if self._kept + len(data) > self.max_bytes:
            self._forget_bytes(dgm)
            self.over_budget += 1
            return
        assert dgm.parts is not None
        dgm.parts.append((start, data))
        dgm.size += len(data)
        self._kept += len(data)

    def _forget_bytes(self, dgm: _Datagram) -> None:
        self._kept -= dgm.size
        dgm.parts = None
        dgm.size = 0

    @staticmethod
    def _reassemble(key: FragKey, dgm: _Datagram, wirelen: int) -> Reassembled | None:
        """The tunnel packet of a complete datagram, decoded; None if its bytes are gone."""
        if dgm.parts is None:
            return None
        body = bytearray()
        for start, chunk in sorted(dgm.parts, key=lambda part: part[0]):
            if start > len(body):
                break  # a gap: the capture cut a fragment short
            if start + len(chunk) > len(body):
                body += chunk[len(body) - start :]
        total = dgm.total
        ver, src, dst, proto, _ = key
        if ver == 4:
            assert isinstance(src, int) and isinstance(dst, int)
            head = _IP4.pack(0x45, 0, 20 + total if total <= 65515 else 0, 0, 0, 64, proto, 0,
                             src, dst)  # fmt: skip
        else:
            assert isinstance(src, bytes) and isinstance(dst, bytes)
            head = _IP6.pack(0x60000000, total if total <= 65535 else 0, proto, 64, src, dst)
        data = head + bytes(body)
        wire = wirelen + sum(held[1] for held in dgm.held)
        missing = max(0, total - len(body))
        return Reassembled(decode(data, 0, len(data), LT_RAW), data, wire, missing)


def _covers(ranges: list[tuple[int, int]], total: int) -> bool:
    """Whether the byte ranges cover ``[0, total)`` without a gap."""
    reach = 0
    for start, end in sorted(ranges):
        if start > reach:
            return False
        reach = max(reach, end)
    return reach >= total
