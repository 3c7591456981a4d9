"""What the console remembers of sign-ins: failed attempts (the throttle) and signed-out
sessions (revoked token ids), in one SQLite file beside the console's key.

Kept on disk, not in the process, for two reasons. A session signed out must stay signed
out when ``phiwatch run`` restarts: held in memory, the revocation was forgotten and the
copied cookie worked again until it expired (up to ``session_minutes``). And every
process that serves the console on this host (``phiwatch run`` with the API, a separate
``phiwatch api``) counts the same failures: a guesser gets no extra tries by reaching
another process. The file is opened in WAL mode with a busy timeout, so processes
and threads share it safely.

The throttle: after ``per_account`` failures for one name (whether or not the account
exists, so the answer tells nothing about which names are real), or ``per_address``
failures from one address, within ``window`` seconds, further sign-ins for that name or
from that address are refused without looking at the password until the oldest counted
failure leaves the window. A success clears the name's count, not the address's (one good
password must not reset a guesser working through many names).

The clock is injected, so tests move time instead of waiting. The file stays small:
failures older than the window and revocations past their token's expiry are deleted as
new ones are written, and at most ``max_keys`` names and addresses are remembered, those
whose newest failure is oldest going first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (kind TEXT NOT NULL, value TEXT NOT NULL,
                                     at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures (kind, value, at);
CREATE INDEX IF NOT EXISTS failures_at ON failures (at);
CREATE TABLE IF NOT EXISTS revoked (token_id TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS revoked_expires ON revoked (expires);
"""


class SignIns:
    def __init__(self, path: Path, *, per_account: int, per_address: int, window: float,
                 clock: Callable[[], float], max_keys: int = 10_000) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window = window
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error:
            self._db.close()
            raise

    # The throttle.

    def retry_after(self, account: str, address: str) -> float | None:
        """Seconds until a sign-in for ``account`` from ``address`` is allowed again; None
        when it is allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for kind, value in (("account", account), ("address", address)):
                limit = self._limits[kind]
                # The limit-th newest failure in the window: when it leaves, one try opens.
                row = self._db.execute(
                    "SELECT at FROM failures WHERE kind = ? AND value = ? AND at > ? "
                    "ORDER BY at DESC LIMIT 1 OFFSET ?",
                    (kind, value, now - self._window, limit - 1)).fetchone()
                if row is not None:
                    wait = max(wait, row[0] + self._window - now)
        return wait if wait > 0 else None

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM failures WHERE at <= ?", (now - self._window,))
            self._db.executemany("INSERT INTO failures (kind, value, at) VALUES (?, ?, ?)",
                                 (("account", account, now), ("address", address, now)))
            keys = self._keys()
            if keys > self._max_keys:
                self._db.execute(
                    "DELETE FROM failures WHERE (kind, value) IN (SELECT kind, value "
                    "FROM failures GROUP BY kind, value ORDER BY max(at) LIMIT ?)",
                    (keys - self._max_keys,))

    def succeeded(self, account: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM failures WHERE kind = 'account' AND value = ?",
                             (account,))

    def remembered_keys(self) -> int:
        """Names and addresses with a failure on file (for the bound's test)."""
        with self._lock:
            return self._keys()

    def _keys(self) -> int:
        (n,) = self._db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM failures GROUP BY kind, value)").fetchone()
        return int(n)

    # Signed-out sessions.

    def revoke(self, token_id: str, expires: float) -> None:
        """Refuse the token ``token_id`` from now until ``expires`` (when it would be
        refused anyway)."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM revoked WHERE expires < ?", (self._clock(),))
            self._db.execute("INSERT OR REPLACE INTO revoked (token_id, expires) "
                             "VALUES (?, ?)", (token_id, expires))

    def revoked(self, token_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM revoked WHERE token_id = ?",
                                    (token_id,)).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()
