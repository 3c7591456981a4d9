"""Simulation time: integer epoch seconds, read in the hospital's zone.

Times are whole seconds (HIS logs rarely carry more); the simulated span starts at the
local midnight before the first day, so that night shifts that began the evening before
the period already have patients to look at.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, zone: str, first: date, days: int) -> None:
        self.zone = ZoneInfo(zone)
        self.first = first
        self.days = days
        self.t0 = self.midnight(first - timedelta(days=1))
        self.start = self.midnight(first)
        self.end = self.midnight(first + timedelta(days=days))
        self.hours = (self.end - self.t0) // 3600 + 1

    def midnight(self, day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp())

    def at(self, day: date, minutes: float) -> int:
        """``minutes`` after the local midnight of ``day`` (may run into the next day)."""
        return self.midnight(day) + int(minutes * 60)

    def hour_index(self, t: int) -> int:
        """Index of the hour bucket holding ``t``, clamped to the simulated span."""
        return min(max(0, (t - self.t0) // 3600), self.hours - 1)

    def offset(self, day: date) -> int:
        """UTC offset in seconds at noon of ``day`` (whole-day granularity is enough here)."""
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=self.zone)
        off = noon.utcoffset()
        return int(off.total_seconds()) if off is not None else 0

    def iso(self, t: int) -> str:
        """``2026-11-16T08:15:02+07:00``."""
        return datetime.fromtimestamp(t, self.zone).isoformat()

    def day_of(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.zone).date()

    def period_days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]
