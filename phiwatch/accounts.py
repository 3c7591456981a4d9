"""Console accounts as use cases: add, change a password, disable, sign in.

Passwords are hashed with Argon2id (``argon2-cffi``'s ``PasswordHasher``, its RFC 9106
"low memory" defaults: 64 MiB, 3 passes), kept as PHC strings so the parameters travel
with each hash; a sign-in with a hash made under older parameters stores a new one.

``authenticate`` takes as long for an unknown or disabled account as for a wrong
password (it verifies against a dummy hash), so its timing tells nobody which accounts
exist. It answers only yes (the account) or no (None): why is nobody's business but the
operator's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from alerting.accounts import (
    USERNAME,
    Account,
    AccountError,
    AccountExists,
    AccountNotFound,
    AccountStore,
)
from api.config import ORG_ID
from api.roles import ROLES
from sensors.errors import StoreError

__all__ = [
    "MIN_PASSWORD_CHARS", "Account", "AccountError", "AccountExists", "AccountNotFound",
    "AccountStore", "account_store", "add_account", "authenticate", "get_account",
    "list_accounts", "normalize_username", "set_disabled", "set_password",
]

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
_ACCOUNT_METHODS = ("create_account", "replace_account", "get_account", "list_accounts")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("phiwatch: no such account")


def account_store(store: Any) -> AccountStore:
    """``store`` as an ``AccountStore``, or ``StoreError`` saying it keeps no accounts."""
    missing = [m for m in _ACCOUNT_METHODS if not callable(getattr(store, m, None))]
    if missing:
        raise StoreError("the configured store keeps no console accounts (it has no "
                         f"{', '.join(missing)})")
    return cast(AccountStore, store)


def normalize_username(name: str) -> str:
    return name.strip().lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"a password is at most {MAX_PASSWORD_CHARS} characters")


#: Roles a person signs into the console with (a remote sensor has a token, no account).
PERSON_ROLES = tuple(r for r in ROLES if r != "sensor")


def _check_role(role: str, hospital: str | None) -> None:
    if role not in PERSON_ROLES:
        raise AccountError(f"unknown role {role!r} for a person's account (one of "
                           f"{', '.join(PERSON_ROLES)})")
    if role == "hospital_it" and not hospital:
        raise AccountError("a hospital_it account needs --hospital")
    if role != "hospital_it" and hospital:
        raise AccountError(f"a {role} account reads every hospital: leave out --hospital")
    if hospital is not None and not ORG_ID.match(hospital):
        raise AccountError(f"{hospital!r} is not an organization id")


def add_account(store: Any, username: str, role: str, hospital: str | None, password: str,
                now: datetime | None = None) -> Account:
    name = normalize_username(username)
    if not USERNAME.match(name):
        raise AccountError(f"{username!r} is not a username (lowercase letters, digits, "
                           "'.', '_', '@', '-'; at most 64)")
    _check_role(role, hospital)
    check_password(password)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    account = Account(name, role, hospital, _hasher().hash(password), at, at)
    return account_store(store).create_account(account)


def get_account(store: Any, username: str) -> Account | None:
    name = normalize_username(username)
    if not USERNAME.match(name):
        return None
    return account_store(store).get_account(name)


def list_accounts(store: Any) -> list[Account]:
    return account_store(store).list_accounts()


def _change(store: Any, username: str, change: Callable[[Account], Account]) -> Account:
    accounts = account_store(store)
    account = get_account(store, username)
    if account is None:
        raise AccountNotFound(normalize_username(username))
    return accounts.replace_account(change(account))


def set_password(store: Any, username: str, password: str, now: datetime | None = None
                 ) -> Account:
    """A new password; sessions signed in before now end."""
    check_password(password)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return _change(store, username, lambda a: replace(
        a, password_hash=_hasher().hash(password), sessions_after=at))


def set_disabled(store: Any, username: str, disabled: bool, now: datetime | None = None
                 ) -> Account:
    """Disable (sessions end at once) or enable an account."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return _change(store, username, lambda a: replace(a, disabled=disabled, sessions_after=at))


def authenticate(store: Any, username: str, password: str) -> Account | None:
    """The account when ``password`` is its password and it is enabled, else None."""
    account = get_account(store, username) if len(password) <= MAX_PASSWORD_CHARS else None
    stored = account.password_hash if account is not None else _dummy_hash()
    try:
        _hasher().verify(stored, password[:MAX_PASSWORD_CHARS])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if account is None or account.disabled:
        return None
    if _hasher().check_needs_rehash(stored):
        account = account_store(store).replace_account(
            replace(account, password_hash=_hasher().hash(password)))
    return account
