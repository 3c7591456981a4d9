"""Turning the many ways logs write time into one timezone-aware UTC ``datetime``.

Every parser calls ``parse_timestamp`` once per record, so the common case (ISO 8601, which
``datetime.fromisoformat`` reads in C) is tried first and everything else only when it fails:

1. ISO 8601 as Python 3.11 reads it: ``2026-11-22T08:15:02+07:00``, ``...Z``, a space
   instead of ``T``, fractional seconds (digits beyond microseconds are dropped), ``,`` as
   the decimal mark, basic forms (``20261122``), a date alone (midnight).
2. The configured ``strptime`` formats, in order (``"%d/%m/%Y %H:%M:%S"``).
3. Numbers, or strings of digits: fourteen digits are the HL7 v2 style ``YYYYMMDDHHMMSS``;
   anything else is an epoch, its unit decided by magnitude (below 1e11 seconds, below
   1e14 milliseconds, below 1e17 microseconds, below 1e20 nanoseconds).

Any time outside the years 1971–2199 is refused (``MIN_YEAR``, ``MAX_YEAR``): such a value
is a corrupt or misread field, and one wild timestamp would drag the rule engine's
watermark into the future and make every later event look late.

A time without an offset is wall-clock time in ``default_zone`` (by default
``Asia/Ho_Chi_Minh``, ``DEFAULT_ZONE``). In zones with daylight saving, a wall-clock time
that happens twice (autumn) is read with ``fold=0``, the first occurrence, and one that does
not exist (spring gap) is read with the offset in force before the gap; both are what
``zoneinfo`` does for ``fold=0`` and are documented rather than guessed at. Failures raise
``ValueError`` naming the value (``TimeRangeError`` for a time out of range).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensors.errors import InputError

#: The zone of a time written without an offset, unless the configuration names another.
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"

#: Times outside these years are refused (see the module docstring).
MIN_YEAR, MAX_YEAR = 1971, 2199

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS = (datetime(MIN_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_MICROS = (datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
#: (magnitude below which a number is in this unit, then µs = number * mul // div):
#: seconds, milliseconds, microseconds, nanoseconds.
_EPOCH_UNITS = ((1e11, 1_000_000, 1), (1e14, 1_000, 1), (1e17, 1, 1), (1e20, 1, 1_000))


class TimeRangeError(InputError, ValueError):
    """A readable time outside ``MIN_YEAR``..``MAX_YEAR``."""


@lru_cache(maxsize=64)
def get_zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, cached; ``ValueError`` for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as {DEFAULT_ZONE!r})"
        ) from None


def _default() -> ZoneInfo:
    return get_zone(DEFAULT_ZONE)


def _show(value: object) -> str:
    """The value for an error message, cut short so one message stays one line."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text) if isinstance(value, str) else text


def parse_timestamp(
    value: object,
    default_zone: ZoneInfo | None = None,
    formats: Sequence[str] = (),
) -> datetime:
    """``value`` (a string, an epoch number or a ``datetime``) as an aware UTC ``datetime``."""
    if type(value) is str:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            dt = _slow_string(value, formats)
        return _utc(dt, default_zone, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(value, value)
    if isinstance(value, datetime):
        return _utc(value, default_zone, value)
    raise ValueError(f"not a time: {_show(value)} (a {type(value).__name__})")


def _utc(dt: datetime, default_zone: ZoneInfo | None, original: object) -> datetime:
    """``dt`` (zoned by ``default_zone`` when naive) in UTC, if within the sane years."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_zone or _default())
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise TimeRangeError(f"time {_show(original)} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return dt.astimezone(UTC)


def _slow_string(value: str, formats: Sequence[str]) -> datetime:
    """Everything but the plain ISO 8601 fast path; naive results are zoned by the caller."""
    text = value.strip()
    if text != value or text[-1:] == "z":
        if text[-1:] == "z":
            text = text[:-1] + "Z"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    digits = text[1:] if text[:1] in "+-" else text
    if digits.isascii() and digits.isdigit():
        if len(text) == 14:
            try:
                return datetime.strptime(text, "%Y%m%d%H%M%S")
            except ValueError:
                raise ValueError(f"unparseable time {_show(value)}") from None
        return _from_epoch(int(text), value)
    if digits.count(".") == 1 and digits.replace(".", "", 1).isdigit() and digits.isascii():
        return _from_epoch(float(text), value)
    raise ValueError(f"unparseable time {_show(value)}")


def _from_epoch(number: float, original: object) -> datetime:
    """An epoch in seconds, ms, µs or ns (by magnitude) as UTC; sane years only."""
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"not a time: {_show(original)}")
    magnitude = abs(number)
    for bound, mul, div in _EPOCH_UNITS:
        if magnitude < bound:
            # Integers stay integers so a millisecond epoch keeps its exact microseconds.
            micros = number * mul // div if isinstance(number, int) else round(number * mul / div)
            if _MIN_MICROS <= micros < _MAX_MICROS:
                return _EPOCH + timedelta(microseconds=micros)
            break
    raise TimeRangeError(
        f"epoch time {_show(original)} is outside the years {MIN_YEAR}-{MAX_YEAR} "
        "(read as seconds, ms, µs or ns by its magnitude)"
    )
