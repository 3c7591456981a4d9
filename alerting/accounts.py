"""Console accounts: who may sign in to the web console, with which role, for which hospital.

An account holds a password *hash* (a PHC string made by ``phiwatch.accounts``), never a
password. ``sessions_after`` is the time before which no session of the account counts:
changing the password, the role or disabling the account moves it to now, so a session
cookie issued earlier stops working at its next request.

Both stores keep accounts (``AccountStore``): a table in the SQLite file, an index
``<prefix>-accounts`` in Elasticsearch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sensors.errors import PhiwatchError

#: Lowercase, starts with a letter or digit, at most 64 characters.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class AccountError(PhiwatchError):
    """An account operation that cannot be done; the message says why."""


class AccountExists(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"an account named {username!r} already exists")


class AccountNotFound(AccountError, LookupError):
    def __init__(self, username: str) -> None:
        super().__init__(f"no account named {username!r}")


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: str
    #: The hospital (``organization.id``) of a hospital IT account.
    hospital: str | None
    password_hash: str
    created_at: datetime
    #: Sessions issued before this time are refused.
    sessions_after: datetime
    disabled: bool = False

    def __post_init__(self) -> None:
        if not USERNAME.match(self.username):
            raise AccountError(f"{self.username!r} is not a username (lowercase letters, "
                               "digits, '.', '_', '@', '-'; at most 64)")
        if self.created_at.tzinfo is None or self.sessions_after.tzinfo is None:
            raise AccountError("account times must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "hospital": self.hospital,
                "password_hash": self.password_hash,
                "created_at": self.created_at.isoformat(),
                "sessions_after": self.sessions_after.isoformat(),
                "disabled": self.disabled}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Account:
        return cls(d["username"], d["role"], d.get("hospital"), d["password_hash"],
                   datetime.fromisoformat(d["created_at"]),
                   datetime.fromisoformat(d["sessions_after"]), bool(d.get("disabled")))


class AccountStore(Protocol):
    """Console accounts, kept by both stores."""

    def create_account(self, account: Account) -> Account:
        """Store a new account; ``AccountExists`` when the name is taken."""
        ...

    def replace_account(self, account: Account) -> Account:
        """Store a changed account; ``AccountNotFound`` when there is none by that name."""
        ...

    def get_account(self, username: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]:
        """Every account, by username."""
        ...
