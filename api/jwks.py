"""The identity provider's public keys (a JWKS), from a file or a URL, and key selection.

A token's ``kid`` only ever *selects* among the keys configured here: it is compared as a
string with the ``kid`` of each key and never used as a path or a URL. A ``kid`` that
names no key (a rotation just happened) makes the source read again, at most once per
``REFETCH_SECONDS``, so a flood of tokens with random ``kid``s cannot make phiwatch hammer
the identity provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

#: The JWK key type each algorithm family needs.
KTY = {"RS": "RSA", "ES": "EC"}
MAX_JWKS_BYTES = 1 << 20
#: Least time between two reads caused by an unknown ``kid``.
REFETCH_SECONDS = 60.0


class JwksError(Exception):
    """The key set cannot be read, or holds no key for the token."""


def _parse(raw: bytes, where: str) -> list[dict[str, Any]]:
    if len(raw) > MAX_JWKS_BYTES:
        raise JwksError(f"{where}: the key set is larger than {MAX_JWKS_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise JwksError(f"{where}: not JSON ({e})") from e
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list):
        raise JwksError(f"{where}: not a JWK set (no \"keys\" list)")
    return [k for k in keys if isinstance(k, dict)]


class JwksSource:
    """The current key set; ``key_for(alg, kid)`` picks the one key a token may use."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        refresh_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("a JWKS source is a file or a URL")
        self._file = file
        self._url = url
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = []
        self._loaded_at: float | None = None
        self._refetched_at: float | None = None

    def load(self) -> None:
        """Read the keys now (at start: a wrong file or URL is found before serving)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._file is not None:
            try:
                raw = self._file.read_bytes()
            except OSError as e:
                raise JwksError(f"{self._file}: cannot read the key set: {e.strerror}") from e
            self._keys = _parse(raw, str(self._file))
        else:
            assert self._url is not None
            try:
                resp = httpx.get(self._url, timeout=5.0, follow_redirects=False)
                resp.raise_for_status()
            except httpx.HTTPError as e:
                raise JwksError(f"{self._url}: cannot fetch the key set ({e})") from e
            self._keys = _parse(resp.content, self._url)
        self._loaded_at = self._clock()

    def _keys_now(self, refresh: bool) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock()
            stale = self._loaded_at is None or now - self._loaded_at >= self._refresh
            again = refresh and (self._refetched_at is None
                                 or now - self._refetched_at >= REFETCH_SECONDS)
            if again:
                self._refetched_at = now
            if stale or again:
                try:
                    self._load()
                except JwksError:
                    if self._loaded_at is None:
                        raise
                    self._loaded_at = self._clock()  # keep the old keys; try again later
            return list(self._keys)

    def key_for(self, alg: str, kid: str | None) -> dict[str, Any]:
        """The JWK a token signed with ``alg`` and naming ``kid`` is checked against."""
        for refresh in (False, True):
            found = _select(self._keys_now(refresh), alg, kid)
            if found is not None:
                return found
        raise JwksError("no key in the identity provider's key set matches the token")


def _select(keys: list[dict[str, Any]], alg: str, kid: str | None) -> dict[str, Any] | None:
    kty = KTY.get(alg[:2])
    usable = [k for k in keys
              if k.get("kty") == kty and k.get("use", "sig") == "sig"
              and k.get("alg", alg) == alg]
    if kid is not None:
        usable = [k for k in usable if k.get("kid") == kid]
    elif len(usable) > 1:
        return None  # several candidates and no kid to choose: refuse rather than guess
    return usable[0] if len(usable) == 1 else None
