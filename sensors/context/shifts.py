"""The shift vocabulary of the roster's ``shift`` column, and how far outside it a time is.

Shift names (compared without case, diacritics or punctuation; local time in the
configured zone):

=========================================  =================================================
``day``                                    07:00–16:00
``evening``                                14:00–22:00
``night``                                  19:00–07:00 the next morning (crosses midnight)
``oncall24`` (also ``24h``, ``oncall``,    always on duty: a 24-hour call starting at 07:00,
``on call``, ``trực``, ``ca trực``)        so no time of day is outside it
``office`` (also ``hành chính``,           07:00–16:30, Vietnamese public office hours
``giờ hành chính``, ``office hours``)
``HH:MM-HH:MM`` (``22:00-06:00``, ``7-15``)  that window; an end not after the start means
                                           the next day
several, joined by ``+`` (``day+night``)   any of them
``rotating`` (``xoay ca``, ``đảo ca``,     hours that change week by week: known, but no
``luân phiên`` …) or empty                 hours to judge by, so no shift fields are added
=========================================  =================================================

A hospital adds or redefines names with ``context.shifts`` in the configuration
(``{"ca 1": "06:00-14:00"}``); a word neither knows leaves that person's shift unknown
(reported by ``phiwatch context check``), it does not reject the roster. The roster says
which shift a person works, not on which days, so "outside the shift" means outside its
hours on any day.

For speed each shift is turned once into a table of 1,440 entries: for every minute of the
local day, how many minutes it lies outside the shift (0 inside, window ends included).
An event's check is then one index into that table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from sensors.context.vocabulary import normalise

_DAY_MINUTES = 1440

#: The built-in shifts: name → windows as (start, end) minutes after the local midnight of
#: the day the shift starts; an end beyond 1440 runs into the next day.
DEFAULT_SHIFTS: dict[str, tuple[tuple[int, int], ...]] = {
    "day": ((7 * 60, 16 * 60),),
    "evening": ((14 * 60, 22 * 60),),
    "night": ((19 * 60, 31 * 60),),
    "oncall24": ((7 * 60, 31 * 60),),
    # Office hours of Vietnamese public hospitals (7:00-11:30, 13:00-16:30), whole.
    "office": ((7 * 60, 16 * 60 + 30),),
}
#: Other names for built-in shifts (compared without diacritics, case or punctuation).
ALIASES: dict[str, str] = {
    "24h": "oncall24", "oncall": "oncall24", "on call": "oncall24", "truc": "oncall24",
    "truc 24h": "oncall24", "ca truc": "oncall24",
    "hanh chinh": "office", "gio hanh chinh": "office", "office hours": "office",
    "administrative": "office",
}
#: Words that say a person's hours change from week to week: a known word, not an error,
#: but no hours to judge by (no off-shift fields, as for an empty cell).
ROTATING = frozenset({"rotating", "rotation", "rota", "xoay ca", "dao ca", "luan phien",
                      "theo lich", "shift work"})

_WINDOW = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class Shift:
    """A named set of daily windows, as minutes after the local midnight of their start."""

    name: str
    windows: tuple[tuple[int, int], ...]

    @property
    def always(self) -> bool:
        """Whether the shift covers the whole day (24-hour call)."""
        return any(e - s >= _DAY_MINUTES for s, e in self.windows)

    @property
    def last_minute(self) -> int:
        """The latest end, in minutes after the midnight of the day the shift starts."""
        return max(e for _, e in self.windows)

    @cached_property
    def outside(self) -> tuple[int, ...]:
        """For each minute of the local day, how many minutes it lies outside the shift."""
        table = []
        for m in range(_DAY_MINUTES):
            best = _DAY_MINUTES
            for s, e in self.windows:
                length = e - s
                if length >= _DAY_MINUTES or (m - s) % _DAY_MINUTES <= length:
                    best = 0
                    break
                best = min(best, (s - m) % _DAY_MINUTES, (m - e) % _DAY_MINUTES)
            table.append(best)
        return tuple(table)


def parse_window(text: str) -> tuple[int, int]:
    """``"22:00-06:00"`` → ``(1320, 1800)``; ``ValueError`` naming the expected form."""
    m = _WINDOW.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time window (expected HH:MM-HH:MM)")
    h1, m1, h2, m2 = (int(g) if g else 0 for g in m.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"{text!r} has an hour above 24 or a minute above 59")
    start, end = (h1 * 60 + m1) % _DAY_MINUTES, (h2 * 60 + m2) % _DAY_MINUTES
    if end <= start:
        end += _DAY_MINUTES  # runs into the next day (equal ends: a 24-hour window)
    return (start, end)


class ShiftBook:
    """Resolves the roster's shift names, built-in and configured, to shared ``Shift``s."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._shifts: dict[str, Shift] = {
            name: Shift(name, windows) for name, windows in DEFAULT_SHIFTS.items()
        }
        for name, spec in (extra or {}).items():
            key = _key(name)
            self._shifts[key] = Shift(key, self._windows(spec))

    @property
    def names(self) -> list[str]:
        """The known shift names."""
        return sorted(self._shifts)

    def resolve(self, text: str) -> Shift | None:
        """The shift ``text`` names; ``None`` when empty or rotating; ``ValueError`` when
        unknown."""
        key = _key(text)
        if not key or (key in ROTATING and key not in self._shifts):
            return None
        key = ALIASES.get(key, key)
        known = self._shifts.get(key)
        if known is not None:
            return known
        shift = Shift(key, self._windows(key))
        self._shifts[key] = shift  # share the table among everyone on this shift
        return shift

    def _windows(self, spec: str) -> tuple[tuple[int, int], ...]:
        windows: list[tuple[int, int]] = []
        for part in spec.split("+"):
            if not _WINDOW.match(part.strip()):
                part = _key(part)
            part = ALIASES.get(part, part)
            if part in self._shifts:
                windows.extend(self._shifts[part].windows)
                continue
            try:
                windows.append(parse_window(part))
            except ValueError:
                raise ValueError(
                    f"unknown shift {part!r} (expected one of {', '.join(self.names)}, "
                    "or HH:MM-HH:MM, several joined by '+')"
                ) from None
        return tuple(windows)


def _key(name: str) -> str:
    """A shift name as looked up: no diacritics, case or punctuation (``Hành chính`` →
    ``hanh chinh``), a time window as written."""
    text = name.strip()
    return text.lower() if _WINDOW.match(text) else normalise(text)
