"""Which alerts become notifications, durably: threshold, one per alert, realert, digest.

Decisions are kept in the outbox's SQLite file, in the same transaction as the enqueue
they lead to, so a crash never leaves a notification decided but not queued, or queued
twice. After a restart phiwatch re-reads the log lines after its last snapshot and raises
their alerts again, with the same ids: the memory of notified alerts (``notify_alerts``)
makes those re-emissions silent.

- **Threshold**: an alert below the channel's ``min_severity`` is not its business.
- **One per alert**: an alert is emitted when its threshold is crossed and again, with
  the same id and a higher ``revision``, while its episode grows and when it closes
  (``final``). The first version seen is notified; later ones only if the channel asks
  (``send_updates``, ``send_final``).
- **Realert**: per channel, one notification per rule and group (a user) per
  ``realert_minutes`` of *event* time (the alert's ``window_end``), like the engine's own
  ``phiwatch.realert``: a replay and a live run notify the same alerts. A throttled
  alert's later versions stay silent too.
- **Digest**: a channel with ``digest_minutes`` collects its alerts instead; the digest
  opens at the event time of its first alert and is sent once that many minutes have
  passed (an alert later than that, or the clock given to ``run_due``). A later version
  of an alert still waiting in the digest replaces it there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import orjson

from alerting.notify.config import ChannelConfig, NotifyConfig
from alerting.store import SEVERITY_RANK
from rules.alert import Alert

SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_alerts (
    channel   TEXT NOT NULL,
    alert_id  TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    decision  TEXT NOT NULL,
    at_us     INTEGER NOT NULL,
    PRIMARY KEY (channel, alert_id)
);
CREATE TABLE IF NOT EXISTS notify_throttle (
    channel  TEXT NOT NULL,
    key      TEXT NOT NULL,
    last_us  INTEGER NOT NULL,
    PRIMARY KEY (channel, key)
);
CREATE TABLE IF NOT EXISTS notify_digest (
    channel   TEXT NOT NULL,
    alert_id  TEXT NOT NULL,
    at_us     INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    alert     BLOB NOT NULL,
    PRIMARY KEY (channel, alert_id)
);
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(dt: datetime) -> int:
    return (dt.astimezone(UTC) - _EPOCH) // _MICRO


def from_micros(us: int) -> datetime:
    return _EPOCH + us * _MICRO


class Verdict(StrEnum):
    """What became of one alert on one channel (also the counters' names)."""

    SEND = "queued"                # a notification of its own, now
    UPDATE = "update_queued"       # a later version, notified as asked
    DIGEST = "digested"            # listed in the channel's next digest
    BELOW = "below_severity"
    DUPLICATE = "duplicate"        # this version (or a later one) was already handled
    THROTTLED = "throttled"        # realert: the rule already spoke for this group
    SKIPPED = "version_skipped"    # a later version the channel does not want


@dataclass(frozen=True, slots=True)
class Route:
    """One channel's effective policy (its own settings, else ``notify``'s)."""

    channel: str
    min_rank: int
    realert_us: int
    digest_us: int
    send_updates: bool
    send_final: bool

    @classmethod
    def of(cls, c: ChannelConfig, config: NotifyConfig) -> Route:
        realert = c.realert_minutes if c.realert_minutes is not None else config.realert_minutes
        digest = getattr(c, "digest_minutes", 0.0)
        return cls(c.name, SEVERITY_RANK[c.min_severity or config.min_severity],
                   int(realert * 60_000_000), int(digest * 60_000_000),
                   config.send_updates, config.send_final)


def create(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def throttle_key(alert: Alert) -> str:
    group = ",".join(f"{k}={v}" for k, v in sorted(alert.group.items()))
    return f"{alert.organization_id or ''}|{alert.rule_id}|{group}"


def decide(db: sqlite3.Connection, route: Route, alert: Alert) -> Verdict:
    """Decide and remember (inside the caller's transaction)."""
    if SEVERITY_RANK.get(alert.severity, 0) < route.min_rank:
        return Verdict.BELOW
    at = micros(alert.window_end)
    row = db.execute("SELECT revision, decision FROM notify_alerts WHERE channel = ? AND "
                     "alert_id = ?", (route.channel, alert.id)).fetchone()
    if row is not None:
        revision, decision = int(row[0]), str(row[1])
        if alert.revision <= revision:
            return Verdict.DUPLICATE
        db.execute("UPDATE notify_alerts SET revision = ?, at_us = ? WHERE channel = ? AND "
                   "alert_id = ?", (alert.revision, at, route.channel, alert.id))
        if decision == Verdict.THROTTLED:
            return Verdict.THROTTLED
        if route.digest_us and _replace_in_digest(db, route, alert):
            return Verdict.DIGEST
        wanted = route.send_final if alert.final else route.send_updates
        if not wanted:
            return Verdict.SKIPPED
        return Verdict.DIGEST if route.digest_us else Verdict.UPDATE
    key = throttle_key(alert)
    last = db.execute("SELECT last_us FROM notify_throttle WHERE channel = ? AND key = ?",
                      (route.channel, key)).fetchone()
    if route.realert_us and last is not None and at - int(last[0]) < route.realert_us:
        db.execute("INSERT INTO notify_alerts VALUES (?, ?, ?, ?, ?)",
                   (route.channel, alert.id, alert.revision, Verdict.THROTTLED, at))
        return Verdict.THROTTLED
    db.execute("INSERT OR REPLACE INTO notify_throttle VALUES (?, ?, ?)",
               (route.channel, key, max(at, int(last[0])) if last is not None else at))
    verdict = Verdict.DIGEST if route.digest_us else Verdict.SEND
    db.execute("INSERT INTO notify_alerts VALUES (?, ?, ?, ?, ?)",
               (route.channel, alert.id, alert.revision, verdict, at))
    return verdict


# -- digests ----------------------------------------------------------------------------------

def _replace_in_digest(db: sqlite3.Connection, route: Route, alert: Alert) -> bool:
    cur = db.execute("UPDATE notify_digest SET alert = ?, at_us = ? WHERE channel = ? AND "
                     "alert_id = ?", (orjson.dumps(alert.to_dict()), micros(alert.window_end),
                                      route.channel, alert.id))
    return cur.rowcount > 0


def collect(db: sqlite3.Connection, route: Route, alert: Alert) -> None:
    """Add ``alert`` to the channel's open digest (replacing an earlier version)."""
    if _replace_in_digest(db, route, alert):
        return
    (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM notify_digest WHERE "
                        "channel = ?", (route.channel,)).fetchone()
    db.execute("INSERT INTO notify_digest VALUES (?, ?, ?, ?, ?)",
               (route.channel, alert.id, micros(alert.window_end), int(seq),
                orjson.dumps(alert.to_dict())))


def digest_opened(db: sqlite3.Connection, channel: str) -> int | None:
    """Event time (µs) of the oldest alert waiting in the channel's digest."""
    (first,) = db.execute("SELECT MIN(at_us) FROM notify_digest WHERE channel = ?",
                          (channel,)).fetchone()
    return int(first) if first is not None else None


def digest_due(db: sqlite3.Connection, route: Route, now_us: int) -> bool:
    opened = digest_opened(db, route.channel)
    return opened is not None and now_us >= opened + route.digest_us


def take_digest(db: sqlite3.Connection, channel: str) -> list[Alert]:
    """Every alert waiting in the channel's digest, in event time, removed from it."""
    rows = db.execute("SELECT alert FROM notify_digest WHERE channel = ? ORDER BY at_us, seq",
                      (channel,)).fetchall()
    db.execute("DELETE FROM notify_digest WHERE channel = ?", (channel,))
    return [Alert.from_dict(orjson.loads(r[0])) for r in rows]


def waiting(db: sqlite3.Connection) -> dict[str, int]:
    """Alerts waiting in each channel's digest."""
    return {str(c): int(n) for c, n in
            db.execute("SELECT channel, COUNT(*) FROM notify_digest GROUP BY channel")}


def forget(db: sqlite3.Connection, before_us: int) -> None:
    """Drop memory older than ``before_us`` of event time (re-emissions come sooner)."""
    db.execute("DELETE FROM notify_alerts WHERE at_us < ?", (before_us,))
    db.execute("DELETE FROM notify_throttle WHERE last_us < ?", (before_us,))
