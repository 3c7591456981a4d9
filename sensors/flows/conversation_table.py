"""The conversation table the reader fills: frames and bytes per IP address pair.

Why apart from :mod:`sensors.flows.conversations`: the reader counts into this table
on its hot path, while ``conversations`` reads captures *through* the reader and talks to
tshark; with both in one module, each imported the other. The counting rules it serves
are described in :mod:`sensors.flows.conversations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from sensors.flows.decode import Tap


@dataclass(slots=True)
class Conversation:
    """Frames and bytes each way between two addresses (A is who spoke first)."""

    a: str
    b: str
    frames_ab: int = 0
    bytes_ab: int = 0
    frames_ba: int = 0
    bytes_ba: int = 0
    start: float = 0.0
    end: float = 0.0

    @property
    def version(self) -> int:
        """6 for an IPv6 pair, else 4."""
        return 6 if ":" in self.a else 4

    @property
    def frames(self) -> int:
        """Frames both ways."""
        return self.frames_ab + self.frames_ba

    @property
    def bytes(self) -> int:
        """Bytes both ways."""
        return self.bytes_ab + self.bytes_ba

    def pair(self) -> frozenset[str]:
        """The unordered address pair, the key to compare tables by."""
        return frozenset((self.a, self.b))


class Tally:
    """Running counts for one address pair."""

    __slots__ = ("a", "b", "bab", "bba", "end", "fab", "fba", "start")

    def __init__(self, a: int | bytes, b: int | bytes, wirelen: int, ts: float) -> None:
        self.a, self.b = a, b
        self.fab, self.bab, self.fba, self.bba = 1, wirelen, 0, 0
        self.start = self.end = ts


class ConversationTable:
    """Accumulates taps; one entry per unordered address pair and IP version."""

    def __init__(self) -> None:
        #: (version, low address, high address) -> counts; the reader updates it inline.
        self.pairs: dict[tuple[int, int | bytes, int | bytes], Tally] = {}

    def add(self, ver: int, src: int | bytes, dst: int | bytes, wirelen: int, ts: float) -> None:
        """Count one tap of an IP header in a frame of ``wirelen`` bytes."""
        key = (ver, src, dst) if src <= dst else (ver, dst, src)  # type: ignore[operator]
        row = self.pairs.get(key)
        if row is None:
            self.pairs[key] = Tally(src, dst, wirelen, ts)
            return
        if row.a == src and row.b == dst:
            row.fab += 1
            row.bab += wirelen
        else:
            row.fba += 1
            row.bba += wirelen
        if ts < row.start:
            row.start = ts
        elif ts > row.end:
            row.end = ts

    def add_taps(self, taps: list[Tap], wirelen: int, ts: float) -> None:
        """Count several taps of one frame, outermost first."""
        for ver, src, dst in taps:
            self.add(ver, src, dst, wirelen, ts)

    def conversations(self) -> list[Conversation]:
        """The table as tshark sorts it: by total frames, descending, then first seen."""
        out = [
            Conversation(
                _addr(ver, t.a), _addr(ver, t.b), t.fab, t.bab, t.fba, t.bba, t.start, t.end
            )
            for (ver, _, _), t in self.pairs.items()
        ]
        out.sort(key=lambda c: -c.frames)
        return out


def _addr(ver: int, raw: int | bytes) -> str:
    if isinstance(raw, int):
        return str(IPv4Address(raw))
    return str(IPv6Address(raw))
