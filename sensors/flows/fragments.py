"""Tracking IP fragments: ports for later fragments, and when a datagram is complete.

Why: only the first fragment of a datagram carries the transport header, yet every
fragment belongs to the same flow; and tshark counts the layers inside a fragmented
datagram (and an IPv6 header with a fragment header at all) once, on the frame that
completes reassembly. Datagrams are keyed by ``(version, src, dst, protocol, id)``.
Fragments seen before their first fragment wait in the entry and are handed back when it
arrives (or when the entry expires). Memory is bounded by ``max_datagrams`` and by
``timeout`` seconds of capture time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from sensors.flows.decode import Frag, Tap

FragKey = tuple[int, int | bytes, int | bytes, int, int]
#: A fragment waiting for its first fragment: (timestamp, wire length, frame number).
Pending = tuple[float, int, int]


@dataclass(slots=True)
class _Datagram:
    """What is known so far about one fragmented datagram."""

    seen: float
    ports: tuple[int, int] | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)
    total: int = -1  # end of the last fragment once seen
    deferred: list[Tap] | None = None
    pending: list[Pending] = field(default_factory=list)


class FragmentTracker:
    """Per-datagram fragment state, bounded in count and age."""

    def __init__(self, timeout: float = 60.0, max_datagrams: int = 65536) -> None:
        self.timeout = timeout
        self.max_datagrams = max_datagrams
        self._open: OrderedDict[FragKey, _Datagram] = OrderedDict()
        #: Datagrams dropped unfinished (expired or evicted).
        self.expired = 0

    def __len__(self) -> int:
        return len(self._open)

    def add(
        self, frag: Frag, ts: float, wirelen: int, frame: int, sport: int, dport: int
    ) -> tuple[tuple[int, int] | None, list[Pending], list[Tap]]:
        """Record one fragment.

        Returns ``(ports, released, taps)``: the datagram's ports if known (None: this
        fragment must wait), fragments that
        waited for this first fragment and now belong to its flow, and the conversation
        taps released because this frame completed the datagram.
        """
        key, start, end, more, deferred = frag
        dgm = self._open.get(key)
        if dgm is None:
            if len(self._open) >= self.max_datagrams:
                self._open.popitem(last=False)
                self.expired += 1
            dgm = self._open[key] = _Datagram(seen=ts)
        released: list[Pending] = []
        if start == 0 and dgm.ports is None:
            dgm.ports = (sport, dport)
            dgm.deferred = deferred
            released, dgm.pending = dgm.pending, []
        elif dgm.ports is None:
            dgm.pending.append((ts, wirelen, frame))
        if not more:
            dgm.total = end
        dgm.ranges.append((start, end))
        taps: list[Tap] = []
        if dgm.total >= 0 and dgm.deferred is not None and _covers(dgm.ranges, dgm.total):
            taps = dgm.deferred
            del self._open[key]
        return dgm.ports, released, taps

    def expire(self, now: float) -> list[tuple[FragKey, list[Pending]]]:
        """Drop datagrams older than the timeout; return the fragments still waiting."""
        out: list[tuple[FragKey, list[Pending]]] = []
        cutoff = now - self.timeout
        stale = [k for k, d in self._open.items() if d.seen < cutoff]
        for key in stale:
            dgm = self._open.pop(key)
            self.expired += 1
            if dgm.pending:
                out.append((key, dgm.pending))
        return out

    def drain(self) -> list[tuple[FragKey, list[Pending]]]:
        """At end of input: everything still waiting, and forget all datagrams."""
        out = [(k, d.pending) for k, d in self._open.items() if d.pending]
        self.expired += len(self._open)
        self._open.clear()
        return out


def _covers(ranges: list[tuple[int, int]], total: int) -> bool:
    """Whether the byte ranges cover ``[0, total)`` without a gap."""
    reach = 0
    for start, end in sorted(ranges):
        if start > reach:
            return False
        reach = max(reach, end)
    return reach >= total
