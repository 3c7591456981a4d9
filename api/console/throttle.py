"""Failed sign-ins, counted per account name and per client address, on a sliding window.

After ``per_account`` failures for one name (whether or not the account exists, so the
answer tells nothing about which names are real), or ``per_address`` failures from one
address, within ``window`` seconds, further sign-ins for that name or from that address
are refused without looking at the password until the oldest counted failure leaves the
window. A success clears the name's count, not the address's (one good password must not
reset a guesser working through many names).

The clock is injected, so tests move time instead of waiting. Memory is bounded: at most
``max_keys`` names and addresses are remembered, stale ones first to go.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class SignInThrottle:
    def __init__(self, per_account: int, per_address: int, window: float,
                 clock: Callable[[], float], max_keys: int = 10_000) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, account: str, address: str) -> float | None:
        """Seconds until a sign-in for ``account`` from ``address`` is allowed again; None
        when it is allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for kind, value in (("account", account), ("address", address)):
                times = self._recent((kind, value), now)
                limit = self._limits[kind]
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self._window - now)
        return wait if wait > 0 else None

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (("account", account), ("address", address)):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
            if len(self._failures) > self._max_keys:
                self._forget(now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account), None)

    def _forget(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        excess = len(self._failures) - self._max_keys
        if excess > 0:
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])[:excess]
            for key in oldest:
                del self._failures[key]
