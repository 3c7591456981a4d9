"""Merges splits in event time, so ``run`` and ``replay`` feed the rules the same order.

The merge releases an event only when no split can still deliver an older one: the *safe
point* is the lowest frontier (``Split.frontier``) over the splits it waits for, and every
pending event older than it goes out, in ``order_key`` order (time, then content id).
A rotated file's unread tail is therefore read before its successor's newer lines count,
two logs read from their beginnings interleave by time, and a split that has gone quiet
in a live run stops holding the others back after its idle timeout.

``order_key`` makes the order of simultaneous events independent of how the input was cut
into files or reads: the same events give the same alerts whichever way they arrive.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from sensors.event import Event
from sensors.split import Split, order_key

INF = float("inf")


class EventTimeMerge:
    """The splits of every source, and what of them may go to the rules now."""

    def __init__(self, *, live: bool) -> None:
        #: ``live``: splits that stay quiet stop constraining the merge (``run``); in a
        #: replay every split is read to its end, so the merge always waits.
        self.live = live
        self.splits: list[Split] = []

    def add(self, split: Split) -> Split:
        self.splits.append(split)
        return split

    def remove_finished(self) -> None:
        """Forget the splits that are done and have nothing left to release."""
        self.splits = [s for s in self.splits if not (s.done and not s.pending)]

    def safe_point(self, now: float) -> float:
        """Events older than this can be released (``+inf``: all of them)."""
        point = INF
        for split in self.splits:
            f = split.frontier(now, live=self.live)
            if f < point:
                point = f
        return point

    def lagging(self, now: float) -> Split | None:
        """The split that holds the safe point back, if one does: read it first."""
        worst, point = None, INF
        for split in self.splits:
            f = split.frontier(now, live=self.live)
            if f < point:
                worst, point = split, f
        return worst

    def release(self, now: float) -> list[Event]:
        """Every pending event older than the safe point, in order."""
        point = self.safe_point(now)
        runs = [run for s in self.splits if s.pending and (run := s.take(point))]
        if not runs:
            return []
        if len(runs) == 1:
            return runs[0]
        return list(heapq.merge(*runs, key=order_key))

    def pending(self) -> int:
        return sum(len(s.pending) + len(s.probation) for s in self.splits)

    def drain(self) -> list[Event]:
        """At the end of the input: every split is finished and everything goes out."""
        for split in self.splits:
            split.finish()
        out = self.release(0.0)
        self.remove_finished()
        return out

    def restore(self, events: Iterable[Event]) -> None:
        """Events read before a restart but not yet released: they wait in a finished
        split of their own (it constrains nothing) until the other splits pass them."""
        held = sorted(events, key=order_key)
        if held:
            split = Split("restored from the snapshot", done=True)
            split.pending = held
            split.max_seen = held[-1].epoch
            self.splits.insert(0, split)
