"""One stream of events in event time: a file being read, or a live network input.

As in Apache Flink's sources, each split has its own watermark: the newest event time it
has delivered (``max_seen``) minus the out-of-orderness it is allowed (``bound``) is a
lower bound on the times of its future events (``frontier``). The pipeline merges splits
in event time (``sensors.merge``) and never lets one split's clock run ahead of another's.

A split also defends the clock against one wrong line. An event far ahead of what the
split has delivered so far (more than ``max_jump`` seconds) is held *on probation*: it does
not move ``max_seen`` until later events of the same split confirm the jump (a quiet night
ends, a HIS node's clock is fixed). If the events after it carry on at the old time, the
far-ahead event is quarantined (dead-lettered with its reason, counted): a single crafted
or mis-clocked line never moves time forward for everyone. In ``run``, an event ahead of
the wall clock by more than the allowed skew is quarantined outright.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from sensors.event import Event

#: Events on probation are decided after this many later events of the same split.
CONFIRMATIONS = 3
_NEVER = float("-inf")

#: Receives an event that may not enter the pipeline, with the reason.
Quarantine = Callable[[Event, str], None]

order_key = attrgetter("epoch", "id")
"""The total order of events in the pipeline: time, then the event's content id, so the
order of simultaneous events does not depend on which file or read they came from."""


@dataclass(eq=False)
class Split:
    """The buffered events and the event-time watermark of one stream.

    ``name`` identifies it in messages; ``bound`` is the out-of-orderness its events may
    have (0 for a log written in time order); ``idle_timeout`` is how long (wall-clock
    seconds) it may stay quiet before the merge stops waiting for it.
    """

    name: str
    bound: float = 0.0
    idle_timeout: float = 2.0
    max_jump: float = 3600.0
    quarantine: Quarantine | None = None
    #: Events delivered but not yet released by the merge, in arrival order.
    pending: list[Event] = field(default_factory=list)
    max_seen: float = _NEVER
    #: Set when the stream can deliver nothing more (a file read to its end in a replay,
    #: a file closed after rotation): the merge no longer waits for it.
    done: bool = False
    #: Wall-clock time (``time.monotonic``) of the last delivery.
    last_delivery: float = 0.0
    probation: list[Event] = field(default_factory=list)
    #: Whether the merge waits for this split. A live network input delivers flows out of
    #: order by up to its timeouts and has no replay to agree with: its events are merged
    #: with the files' as they come, and the engine's lateness absorbs their disorder.
    constrains: bool = True
    #: Events stamped after this are quarantined on arrival (``run`` sets it to the wall
    #: clock plus the allowed skew; a replay has no such horizon).
    horizon: float = float("inf")
    #: Reads up to that many more records of the stream into the split (a file's reader);
    #: returns how many it read. ``None`` for streams that push (live network inputs).
    pull: Callable[[int], int] | None = None
    _confirm: int = 0
    _contradict: int = 0
    quarantined: int = 0

    # -- delivery ------------------------------------------------------------------------

    def add(self, events: list[Event], now: float = 0.0) -> None:
        """Take ``events`` in the order the stream gave them; ``now`` is the wall clock."""
        if events:
            self.last_delivery = now
        for event in events:
            epoch = event.epoch
            if epoch > self.horizon:
                self._quarantine(event, "stamped ahead of the wall clock by more than the "
                                        "allowed skew")
                continue
            if self.probation:
                self._judge(event)
                continue
            if epoch > self.max_seen:
                if self.max_seen != _NEVER and epoch - self.max_seen > self.max_jump:
                    self.probation.append(event)
                    continue
                self.max_seen = epoch
            self.pending.append(event)

    def _judge(self, event: Event) -> None:
        """One more event while some are on probation: it confirms or contradicts them."""
        head = self.probation[0].epoch
        if event.epoch >= head - self.max_jump:
            self._confirm += 1
            self.probation.append(event)
        else:
            self._contradict += 1
            self.pending.append(event)
            self.max_seen = max(self.max_seen, event.epoch)
        if self._confirm >= CONFIRMATIONS:
            self.accept_probation()
        elif self._contradict >= CONFIRMATIONS:
            self.reject_probation("not confirmed by the events after it")

    def accept_probation(self) -> None:
        """The jump was real (a quiet period ended): the held events enter the stream."""
        held, self.probation = self.probation, []
        self._confirm = self._contradict = 0
        for event in held:
            if event.epoch > self.max_seen:
                self.max_seen = event.epoch
            self.pending.append(event)

    def reject_probation(self, why: str) -> None:
        """Quarantine the events far ahead of the stream (a wrong clock, a crafted line);
        the events that came with them that are not far ahead go on."""
        held, self.probation = self.probation, []
        self._confirm = self._contradict = 0
        base = self.max_seen
        for event in held:
            if base == _NEVER or event.epoch - base <= self.max_jump:
                self.pending.append(event)
                self.max_seen = max(self.max_seen, event.epoch)
                continue
            self._quarantine(event, f"{event.epoch - base:,.0f} s ahead of the events before "
                                    f"it in {self.name} and {why}")

    def _quarantine(self, event: Event, why: str) -> None:
        self.quarantined += 1
        if self.quarantine is not None:
            self.quarantine(event, (
                f"event at {event.timestamp.isoformat()} is {why}; it is kept out of the "
                "pipeline so that it cannot move event time forward"))

    # -- the merge's view ----------------------------------------------------------------

    def frontier(self, now: float, *, live: bool) -> float:
        """No future event of this split is older than this (``+inf``: it constrains
        nothing: done, or quiet for longer than its idle timeout in a live run)."""
        if self.done or not self.constrains:
            return float("inf")
        if live and not self.probation and now - self.last_delivery >= self.idle_timeout:
            return float("inf")  # quiet: what it holds goes out, it holds nothing back
        return self.max_seen - self.bound

    def take(self, below: float) -> list[Event]:
        """Remove and return the pending events older than ``below``, in ``order_key``
        order (everything when ``below`` is infinite)."""
        pending = self.pending
        if not pending:
            return []
        pending.sort(key=order_key)  # nearly sorted already: linear
        if below == float("inf") or pending[-1].epoch < below:
            self.pending = []
            return pending
        lo, hi = 0, len(pending)
        while lo < hi:  # first event at or after ``below``
            mid = (lo + hi) // 2
            if pending[mid].epoch < below:
                lo = mid + 1
            else:
                hi = mid
        out = pending[:lo]
        del pending[:lo]
        return out

    def finish(self) -> None:
        """Nothing more will come. Held events that nothing contradicted were a real jump
        (a sparse log); those the events after them contradicted are quarantined."""
        if self.probation:
            if self._contradict:
                self.reject_probation("contradicted by the events after it")
            else:
                self.accept_probation()
        self.done = True
