"""The staff roster (``roster.csv``): who an account belongs to, and when it may be used.

Columns: ``user_id, full_name, role, department, status, end_date, shift, vendor``.

- ``user_id``: the HIS account (``user.id`` in the logs); required, unique.
- ``full_name``: optional.
- ``role``: required; several roles separated by ``;``, ``|`` or ``,`` (quoted).
- ``department``: required; a department code, compared without regard to case.
- ``status`` (case-insensitive): ``active`` (also when empty) or ``on_leave``; ``disabled``,
  ``terminated``, ``suspended``, ``locked``: the account must not be used at all;
  ``inactive``, ``left``, ``resigned``, ``retired``: the person has left and ``end_date`` is
  their last working day (without one, the account must not be used at all). Anything
  else is a bad row, so a new word in an HR export is noticed rather than guessed at.
- ``end_date``: ``YYYY-MM-DD``, the last day the account may be used: the last working day
  of a leaver, the end of a vendor's contract. Activity is *after* it from the local
  midnight ending that day, or, for a shift running past midnight (``night``), from the
  end of that shift plus the tolerance, so a leaver's last night shift is not flagged.
- ``shift``: see :mod:`sensors.context.shifts`; empty when unknown.
- ``vendor``: empty, ``no``, ``false`` or ``0`` for hospital staff; ``yes``, ``true`` or
  ``1`` for a contractor of unnamed company; anything else is the company's name. A role
  of ``vendor`` also makes the account a vendor's.

Everything the enricher needs per event is computed here once per load (the epoch after
which the account is ended, the shift's minute table), so the hot path only looks up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sensors.context.csvfile import LoadReport, RowError, read_csv
from sensors.context.localtime import ZoneOffsets, day_after
from sensors.context.shifts import Shift, ShiftBook

COLUMNS = ("user_id", "full_name", "role", "department", "status", "end_date", "shift",
           "vendor")

#: Statuses whose account may be used (until ``end_date``, if one is given).
ACTIVE_STATUSES = frozenset({"active", "on_leave"})
#: Statuses whose account must not be used at all.
BLOCKED_STATUSES = frozenset({"disabled", "terminated", "suspended", "locked"})
#: Statuses of people who left: the account may be used until ``end_date``.
LEFT_STATUSES = frozenset({"inactive", "left", "resigned", "retired"})

_NOT_VENDOR = frozenset({"", "no", "n", "false", "0"})
_UNNAMED_VENDOR = frozenset({"yes", "y", "true", "1", "x"})
_ROLE_SPLIT = re.compile(r"\s*[;|,]\s*")
_INF = float("inf")


@dataclass(frozen=True, slots=True)
class StaffMember:
    """One roster row, with what the enricher derives from it precomputed."""

    user_id: str
    full_name: str
    roles: tuple[str, ...]
    department: str
    status: str
    end_date: str  # ISO date or ""
    shift_name: str  # "" when unknown
    vendor: str | bool  # company name, True (unnamed) or False
    #: Epoch from which the account counts as ended (``-inf``: always, ``inf``: never).
    ended_from: float
    #: Minutes outside the shift for each minute of the local day, or None (no shift).
    outside: tuple[int, ...] | None
    #: The national id (CCCD) when the roster has that optional column: it tells when a
    #: staff member opens their own patient record.
    national_id: str = ""


class Roster:
    """The staff by account id; an empty, never-loaded roster adds nothing to events."""

    def __init__(self, staff: dict[str, StaffMember] | None = None,
                 report: LoadReport | None = None) -> None:
        self.staff = staff if staff is not None else {}
        self.report = report
        #: Whether this came from a file (False for the placeholder before the first load).
        self.loaded = report is not None

    def get(self, user_id: str) -> StaffMember | None:
        return self.staff.get(user_id)

    def __len__(self) -> int:
        return len(self.staff)


def load_roster(path: Path, shifts: ShiftBook, zone: ZoneOffsets,
                tolerance_minutes: int) -> Roster:
    """Read ``path``; ``FileRejected`` if unusable as a whole, bad rows skipped and reported."""
    staff: dict[str, StaffMember] = {}

    def row(values: list[str]) -> None:
        (user_id, full_name, role, department, status, end_text, shift_text, vendor,
         national_id) = values
        if not user_id:
            raise RowError("user_id", "empty account id")
        if user_id in staff:
            raise RowError("user_id", f"duplicate account {user_id!r} (the first row is kept)")
        roles = tuple(r for r in _ROLE_SPLIT.split(role) if r)
        if not roles:
            raise RowError("role", "empty role")
        if not department:
            raise RowError("department", "empty department")
        status = status.lower() or "active"
        if status not in ACTIVE_STATUSES | BLOCKED_STATUSES | LEFT_STATUSES:
            known = sorted(ACTIVE_STATUSES | BLOCKED_STATUSES | LEFT_STATUSES)
            raise RowError("status", f"unknown status {status!r} (expected one of "
                                     f"{', '.join(known)})")
        end: date | None = None
        if end_text:
            try:
                end = date.fromisoformat(end_text)
            except ValueError:
                raise RowError("end_date", f"{end_text!r} is not a date "
                                           "(expected YYYY-MM-DD)") from None
        try:
            shift = shifts.resolve(shift_text)
        except ValueError as e:
            raise RowError("shift", str(e)) from None
        lowered = vendor.lower()
        is_vendor: str | bool = (
            False if lowered in _NOT_VENDOR else True if lowered in _UNNAMED_VENDOR else vendor
        )
        if is_vendor is False and "vendor" in (r.lower() for r in roles):
            is_vendor = True
        staff[user_id] = StaffMember(
            user_id=user_id,
            full_name=full_name,
            roles=roles,
            department=department.lower(),
            status=status,
            end_date=end.isoformat() if end else "",
            shift_name=shift.name if shift else "",
            vendor=is_vendor,
            ended_from=_ended_from(status, end, shift, zone, tolerance_minutes),
            outside=None if shift is None else shift.outside,
            national_id=national_id,
        )

    report = read_csv(path, COLUMNS, row, optional=("national_id",))
    return Roster(staff, report)


def _ended_from(status: str, end: date | None, shift: Shift | None, zone: ZoneOffsets,
                tolerance_minutes: int) -> float:
    """The epoch from which using the account counts as activity after it ended."""
    if status in BLOCKED_STATUSES or (status in LEFT_STATUSES and end is None):
        return -_INF
    if end is None:
        return _INF
    after_day = zone.midnight(day_after(end))
    if shift is None or shift.last_minute <= 1440:
        return after_day
    # a shift starting on the last day and running past midnight may be worked to its end
    return max(after_day, zone.midnight(end) + (shift.last_minute + tolerance_minutes) * 60)
