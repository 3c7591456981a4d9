"""A durable outbox: every delivery of every report, retried until it lands, never lost.

A report to the Department or the data-protection agency must arrive even when the mail
relay is down or the Department's endpoint answers 503 for an hour, and a restart must
not forget it. So ``enqueue`` writes the parcel (subject, text, DOCX, PDF, JWS) and one
delivery per (channel, target) into SQLite first; ``run_due(now=…)`` then sends what is
due, records every attempt (time, result, status, error), and schedules a failed one with
exponential backoff (honouring a server's Retry-After). A channel's verdict decides:
delivered, retry (network errors, SMTP 4xx, HTTP 5xx/429), or failed for good (SMTP 5xx,
HTTP 4xx: retrying cannot help; the error is kept for the operator, who may ``requeue``).

A delivery being sent is leased; if the process dies mid-send the lease expires and the
next ``run_due`` sends it again. Delivery is therefore at least once: the webhook carries
an ``Idempotency-Key`` stable per report and target, the email a stable Message-ID.
``now`` is always given by the caller (event time in a replay, wall time live), so tests
step time instead of sleeping.

The outbox knows nothing of reports beyond the parcel's field names: alert notifications
(``alerting.notify``) use it as it is, with a parcel per notification, their own channels,
and ``transaction()`` to enqueue in the same SQLite transaction as their own bookkeeping.
``alerting.reports.outbox_status`` reads it for operators (pending and failed per
channel) and forgets what was delivered long ago.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from alerting.reports.errors import DeliveryError
from alerting.reports.safe_text import clean

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parcels (
    report_id  TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    jws        BLOB NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parcel_files (
    report_id    TEXT NOT NULL,
    position     INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (report_id, position)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY,
    report_id       TEXT NOT NULL REFERENCES parcels (report_id),
    channel         TEXT NOT NULL,
    target          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_us         INTEGER NOT NULL,
    lease_us        INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    UNIQUE (report_id, channel, target)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_us);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    n           INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    result      TEXT NOT NULL,
    status      INTEGER,
    error       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
"""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(dt: datetime) -> int:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise DeliveryError("outbox time", "needs a timezone-aware time")
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class State(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"        # refused for good (4xx / 5xx SMTP); requeue after fixing
    GAVE_UP = "gave_up"      # temporary failures past max_attempts; requeue to go on


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Parcel:
    """What is delivered: a message (for email) and the signed JWS (for the webhook).

    For other senders the fields are generic: ``report_id`` is the parcel's unique id,
    ``subject`` and ``body`` the human message, ``jws`` the machine-readable body (a
    notification's JSON document)."""

    report_id: str
    subject: str
    body: str
    jws: bytes
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A channel's verdict on one attempt."""

    result: State  # DELIVERED, PENDING (retry) or FAILED
    error: str = ""
    status: int | None = None
    retry_after: timedelta | None = None

    @classmethod
    def delivered(cls, status: int | None = None) -> Outcome:
        return cls(State.DELIVERED, status=status)

    @classmethod
    def retry(cls, error: str, *, status: int | None = None,
              retry_after: timedelta | None = None) -> Outcome:
        return cls(State.PENDING, clean(error, limit=1000), status, retry_after)

    @classmethod
    def failed(cls, error: str, *, status: int | None = None) -> Outcome:
        return cls(State.FAILED, clean(error, limit=1000), status)


class Channel(Protocol):
    """Sends one parcel to one target; never raises for a delivery problem."""

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """base × 2^(attempts − 1), at most ``cap``; a Retry-After longer than that wins
    (up to ``max_retry_after``)."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_retry_after: timedelta = timedelta(hours=6)

    def delay(self, attempts: int, retry_after: timedelta | None = None) -> timedelta:
        step = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 30)))
        if retry_after is not None:
            step = max(step, min(retry_after, self.max_retry_after))
        return step


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    report_id: str
    channel: str
    target: str
    idempotency_key: str
    state: State
    attempts: int
    next_attempt: datetime
    last_error: str


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: int
    n: int
    at: datetime
    result: State
    status: int | None
    error: str


def idempotency_key(report_id: str, channel: str, target: str) -> str:
    """Stable per report and target: the receiver deduplicates retries with it."""
    return hashlib.sha256(f"{report_id}\n{channel}\n{target}".encode()).hexdigest()[:32]


class Outbox:
    """The deliveries in one SQLite file; a new object on the same file continues."""

    def __init__(self, path: Path | str, channels: Mapping[str, Channel], *,
                 backoff: Backoff | None = None, max_attempts: int = 20,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.path = Path(path)
        self.channels = dict(channels)
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.lease = lease
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30.0, isolation_level=None)

    def _tx(self, db: sqlite3.Connection) -> _Tx:
        return _Tx(db, self.path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE`` … ``COMMIT`` on the outbox file, for a
        caller that keeps its own tables there and must enqueue in the same transaction
        (pass it to ``enqueue(db=…)``); rolled back if the block raises."""
        with closing(self._connect()) as db, self._tx(db):
            yield db

    def enqueue(self, parcel: Parcel, targets: Iterable[tuple[str, str]], *,
                now: datetime, db: sqlite3.Connection | None = None) -> list[int]:
        """Store ``parcel`` and a delivery per (channel, target); idempotent (the same
        report and target enqueued twice is one delivery). Returns the delivery ids.
        ``db``: a connection from ``transaction()`` to enqueue within."""
        targets = list(targets)
        for channel, _ in targets:
            if channel not in self.channels:
                raise DeliveryError(f"channel {channel!r}",
                                    f"not configured (have: {', '.join(self.channels)})")
        if db is not None:
            return self._enqueue(db, parcel, targets, _us(now))
        with self.transaction() as own:
            return self._enqueue(own, parcel, targets, _us(now))

    @staticmethod
    def _enqueue(db: sqlite3.Connection, parcel: Parcel, targets: list[tuple[str, str]],
                 at: int) -> list[int]:
        db.execute("INSERT OR IGNORE INTO parcels VALUES (?, ?, ?, ?, ?)",
                   (parcel.report_id, parcel.subject, parcel.body, parcel.jws, at))
        for i, a in enumerate(parcel.attachments):
            db.execute("INSERT OR IGNORE INTO parcel_files VALUES (?, ?, ?, ?, ?)",
                       (parcel.report_id, i, a.filename, a.content_type, a.data))
        ids = []
        for channel, target in targets:
            db.execute(
                "INSERT OR IGNORE INTO deliveries (report_id, channel, target, "
                "idempotency_key, state, next_us) VALUES (?, ?, ?, ?, ?, ?)",
                (parcel.report_id, channel, target,
                 idempotency_key(parcel.report_id, channel, target), State.PENDING, at))
            (did,) = db.execute(
                "SELECT id FROM deliveries WHERE report_id = ? AND channel = ? AND "
                "target = ?", (parcel.report_id, channel, target)).fetchone()
            ids.append(int(did))
        return ids

    def _claim(self, now_us: int) -> tuple[Delivery, Parcel] | None:
        with closing(self._connect()) as db, self._tx(db):
            row = db.execute(
                "SELECT id FROM deliveries WHERE (state = ? AND next_us <= ?) OR "
                "(state = ? AND lease_us <= ?) ORDER BY next_us, id LIMIT 1",
                (State.PENDING, now_us, State.SENDING, now_us)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE deliveries SET state = ?, lease_us = ? WHERE id = ?",
                       (State.SENDING, now_us + self.lease // timedelta(microseconds=1),
                        row[0]))
            delivery = self._delivery(db, int(row[0]))
            return delivery, self._parcel(db, delivery.report_id)

    def _finish(self, d: Delivery, outcome: Outcome, now_us: int) -> Attempt:
        n = d.attempts + 1
        state = outcome.result
        next_us = now_us
        error = outcome.error
        if state is State.PENDING:
            if n >= self.max_attempts:
                state = State.GAVE_UP
                error = f"{error} (gave up after {n} attempts)"
            else:
                delay = self.backoff.delay(n, outcome.retry_after)
                next_us = now_us + delay // timedelta(microseconds=1)
        with closing(self._connect()) as db, self._tx(db):
            db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?)",
                       (d.id, n, now_us, outcome.result, outcome.status, outcome.error))
            db.execute("UPDATE deliveries SET state = ?, attempts = ?, next_us = ?, "
                       "lease_us = NULL, last_error = ? WHERE id = ?",
                       (state, n, next_us, error, d.id))
        return Attempt(d.id, n, _dt(now_us), outcome.result, outcome.status, outcome.error)

    def run_due(self, *, now: datetime, limit: int = 100) -> list[Attempt]:
        """Attempt every delivery due at ``now`` (at most ``limit``), each once."""
        now_us = _us(now)
        done: list[Attempt] = []
        while len(done) < limit:
            claimed = self._claim(now_us)
            if claimed is None:
                break
            delivery, parcel = claimed
            channel = self.channels.get(delivery.channel)
            if channel is None:
                outcome = Outcome.retry(f"channel {delivery.channel!r} is not configured")
            else:
                try:
                    outcome = channel.send(parcel, delivery.target, delivery.idempotency_key)
                except Exception as e:  # a channel bug must not lose the delivery
                    outcome = Outcome.retry(f"{type(e).__name__}: {e}")
            done.append(self._finish(delivery, outcome, now_us))
        return done

    def requeue(self, delivery_id: int, *, now: datetime) -> None:
        """Send a failed or given-up delivery again (after the operator fixed the cause)."""
        with closing(self._connect()) as db, self._tx(db):
            db.execute("UPDATE deliveries SET state = ?, next_us = ? WHERE id = ? AND "
                       "state IN (?, ?)", (State.PENDING, _us(now), delivery_id,
                                            State.FAILED, State.GAVE_UP))

    def next_due(self) -> datetime | None:
        """When the next pending delivery is due (for a scheduler's sleep)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT MIN(CASE WHEN state = ? THEN next_us ELSE lease_us END) "
                             "FROM deliveries WHERE state IN (?, ?)",
                             (State.PENDING, State.PENDING, State.SENDING)).fetchone()
        return _dt(int(row[0])) if row and row[0] is not None else None

    def deliveries(self, report_id: str | None = None) -> list[Delivery]:
        with closing(self._connect()) as db:
            ids = db.execute("SELECT id FROM deliveries WHERE ? IS NULL OR report_id = ? "
                             "ORDER BY id", (report_id, report_id)).fetchall()
            return [self._delivery(db, int(i)) for (i,) in ids]

    def delivery(self, delivery_id: int) -> Delivery | None:
        with closing(self._connect()) as db:
            found = db.execute("SELECT 1 FROM deliveries WHERE id = ?",
                               (delivery_id,)).fetchone()
            return self._delivery(db, delivery_id) if found else None

    def attempts(self, delivery_id: int) -> list[Attempt]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT delivery_id, n, at_us, result, status, error FROM "
                              "attempts WHERE delivery_id = ? ORDER BY n",
                              (delivery_id,)).fetchall()
        return [Attempt(int(d), int(n), _dt(int(t)), State(r), s, e)
                for d, n, t, r, s, e in rows]

    @staticmethod
    def _delivery(db: sqlite3.Connection, delivery_id: int) -> Delivery:
        r = db.execute("SELECT id, report_id, channel, target, idempotency_key, state, "
                       "attempts, next_us, last_error FROM deliveries WHERE id = ?",
                       (delivery_id,)).fetchone()
        return Delivery(int(r[0]), r[1], r[2], r[3], r[4], State(r[5]), int(r[6]),
                        _dt(int(r[7])), r[8])

    @staticmethod
    def _parcel(db: sqlite3.Connection, report_id: str) -> Parcel:
        subject, body, jws = db.execute("SELECT subject, body, jws FROM parcels WHERE "
                                        "report_id = ?", (report_id,)).fetchone()
        files: Sequence[tuple[str, str, bytes]] = db.execute(
            "SELECT filename, content_type, data FROM parcel_files WHERE report_id = ? "
            "ORDER BY position", (report_id,)).fetchall()
        return Parcel(report_id, subject, body, bytes(jws),
                      tuple(Attachment(f, c, bytes(d)) for f, c, d in files))


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK``), SQLite errors as DeliveryError."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise DeliveryError(f"outbox {self.path}", str(e)) from e

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                raise DeliveryError(f"outbox {self.path}", str(e)) from e
            return
        self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise DeliveryError(f"outbox {self.path}", str(exc)) from exc
