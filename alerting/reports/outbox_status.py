"""What an operator asks of an outbox: what is pending or failed per channel, and room.

Reports and alert notifications share the outbox (``alerting.reports.outbox``); this is
its operator's view, kept apart from the delivery mechanics. ``summarize`` answers
"is anything stuck, and why" (a ``phiwatch notify status`` or a metrics scrape);
``purge`` forgets parcels delivered long ago so that a year of notifications does not
grow the file for ever. Pending and failed deliveries are never purged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerting.reports.outbox import Outbox, State

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """One channel's deliveries by state."""

    channel: str
    counts: Mapping[State, int]
    #: When the oldest delivery still pending was first due (how long it has waited).
    oldest_pending: datetime | None
    #: The latest error of a delivery not delivered ("" when none).
    last_error: str

    @property
    def pending(self) -> int:
        return self.counts.get(State.PENDING, 0) + self.counts.get(State.SENDING, 0)

    @property
    def failed(self) -> int:
        """Refused for good or given up: waiting for the operator (``requeue``)."""
        return self.counts.get(State.FAILED, 0) + self.counts.get(State.GAVE_UP, 0)

    @property
    def delivered(self) -> int:
        return self.counts.get(State.DELIVERED, 0)


def summarize(outbox: Outbox) -> list[ChannelSummary]:
    """Per channel (configured, or found in the file): counts by state, the oldest pending
    delivery, the latest error; sorted by channel name."""
    with outbox.transaction() as db:
        rows = db.execute("SELECT channel, state, COUNT(*), MIN(next_us) FROM deliveries "
                          "GROUP BY channel, state").fetchall()
        errors = dict(db.execute(
            "SELECT channel, last_error FROM deliveries WHERE id IN (SELECT MAX(id) FROM "
            "deliveries WHERE state != ? AND last_error != '' GROUP BY channel)",
            (State.DELIVERED,)).fetchall())
    counts: dict[str, dict[State, int]] = {name: {} for name in outbox.channels}
    oldest: dict[str, int] = {}
    for channel, state, n, first_us in rows:
        counts.setdefault(channel, {})[State(state)] = int(n)
        if state in (State.PENDING, State.SENDING) and first_us is not None:
            oldest[channel] = min(oldest.get(channel, int(first_us)), int(first_us))
    return [ChannelSummary(name, c,
                           _EPOCH + oldest[name] * _MICRO if name in oldest else None,
                           str(errors.get(name, "")))
            for name, c in sorted(counts.items())]


def purge(outbox: Outbox, *, delivered_before: datetime) -> int:
    """Forget the parcels created before ``delivered_before`` whose every delivery was
    delivered (their attempts too); returns how many parcels went."""
    cutoff = (delivered_before.astimezone(UTC) - _EPOCH) // _MICRO
    with outbox.transaction() as db:
        gone = [r for (r,) in db.execute(
            "SELECT p.report_id FROM parcels p WHERE p.created_us < ? AND NOT EXISTS "
            "(SELECT 1 FROM deliveries d WHERE d.report_id = p.report_id AND d.state != ?)",
            (cutoff, State.DELIVERED)).fetchall()]
        for report_id in gone:
            db.execute("DELETE FROM attempts WHERE delivery_id IN "
                       "(SELECT id FROM deliveries WHERE report_id = ?)", (report_id,))
            db.execute("DELETE FROM deliveries WHERE report_id = ?", (report_id,))
            db.execute("DELETE FROM parcel_files WHERE report_id = ?", (report_id,))
            db.execute("DELETE FROM parcels WHERE report_id = ?", (report_id,))
    return len(gone)
