"""Local wall-clock time of an epoch without building a ``datetime`` for every event.

Shift checks need the minute of the local day of every event. ``datetime.fromtimestamp``
with a ``ZoneInfo`` costs about a microsecond, a fifth of the enrichment budget, so
``ZoneOffsets`` remembers spans of time over which the zone's UTC offset is constant: the
hot path is then one range comparison and an addition. A span is found once by sampling
the zone daily up to ``_REACH`` either side and bisecting to the second where the offset
changes, so a zone that changes its offset twice within one day (none does) would be
read with a span that is too long. Spans are kept, so events that go back and forth
across a daylight-saving change do not recompute them.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = 86_400
_REACH = 400  # days sampled either side of a new epoch


def _offset_at(zone: ZoneInfo, epoch: float) -> int:
    off = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _change_between(zone: ZoneInfo, same: float, other: float, off: int) -> int:
    """The span boundary between ``same`` (offset ``off``) and ``other`` (another offset).

    Forwards it is the first second with the other offset; backwards the first second
    with ``off``. Offsets change on whole seconds, so integer bisection finds it exactly.
    """
    forward = other > same
    a, b = (int(same), int(other) + 1) if forward else (int(same) + 1, int(other))
    # invariant: offset(a) == off != offset(b)
    while abs(b - a) > 1:
        mid = (a + b) // 2
        if _offset_at(zone, mid) == off:
            a = mid
        else:
            b = mid
    return b if forward else a


class ZoneOffsets:
    """UTC offsets of one zone by epoch, with the spans over which they are constant."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._starts: list[float] = []  # sorted span starts
        self._spans: list[tuple[float, float, int]] = []  # (start, end, offset), same order

    def span(self, epoch: float) -> tuple[float, float, int]:
        """``(start, end, offset)``: the offset in seconds is constant on ``[start, end)``."""
        i = bisect.bisect_right(self._starts, epoch) - 1
        if i >= 0:
            s = self._spans[i]
            if epoch < s[1]:
                return s
        s = self._find(epoch)
        j = bisect.bisect_left(self._starts, s[0])
        self._starts.insert(j, s[0])
        self._spans.insert(j, s)
        return s

    def offset(self, epoch: float) -> int:
        """The zone's UTC offset in seconds at ``epoch``."""
        return self.span(epoch)[2]

    def minute_of_day(self, epoch: float) -> int:
        """The minute of the local day (0–1439) at ``epoch``."""
        return int((epoch + self.offset(epoch)) // 60) % 1440

    def midnight(self, day: date) -> float:
        """The epoch of the local midnight that starts ``day`` (first one if it repeats)."""
        return datetime.combine(day, time(), tzinfo=self.zone).timestamp()

    def _find(self, epoch: float) -> tuple[float, float, int]:
        zone = self.zone
        off = _offset_at(zone, epoch)
        start, end = epoch - _REACH * _DAY, epoch + _REACH * _DAY
        t = epoch
        while t < epoch + _REACH * _DAY:
            nxt = t + _DAY
            if _offset_at(zone, nxt) != off:
                end = _change_between(zone, t, nxt, off)
                break
            t = nxt
        t = epoch
        while t > epoch - _REACH * _DAY:
            prv = t - _DAY
            if _offset_at(zone, prv) != off:
                start = _change_between(zone, t, prv, off)
                break
            t = prv
        return (start, end, off)


def day_after(day: date) -> date:
    """The calendar day after ``day``."""
    return day + timedelta(days=1)
