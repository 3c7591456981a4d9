"""Console accounts in the embedded SQLite store: one row per account."""

from __future__ import annotations

import sqlite3
import threading

import orjson

from alerting.accounts import Account, AccountExists, AccountNotFound

ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS console_accounts (
    username TEXT PRIMARY KEY,
    doc      BLOB NOT NULL
);
"""


class SQLiteAccounts:
    """The ``AccountStore`` methods, mixed into ``SQLiteAlertStore`` (needs ``_db``,
    ``_lock``)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def create_account(self, account: Account) -> Account:
        try:
            with self._lock, self._db:
                self._db.execute("INSERT INTO console_accounts (username, doc) VALUES (?, ?)",
                                 (account.username, orjson.dumps(account.to_dict())))
        except sqlite3.IntegrityError:
            raise AccountExists(account.username) from None
        return account

    def replace_account(self, account: Account) -> Account:
        with self._lock, self._db:
            changed = self._db.execute(
                "UPDATE console_accounts SET doc = ? WHERE username = ?",
                (orjson.dumps(account.to_dict()), account.username)).rowcount
        if not changed:
            raise AccountNotFound(account.username)
        return account

    def get_account(self, username: str) -> Account | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM console_accounts WHERE username = ?",
                                   (username,)).fetchone()
        return Account.from_dict(orjson.loads(row[0])) if row else None

    def list_accounts(self) -> list[Account]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM console_accounts ORDER BY username").fetchall()
        return [Account.from_dict(orjson.loads(r[0])) for r in rows]
