"""The staff roster (``roster.csv``): who an account belongs to, and when it may be used.

Columns: ``user_id, full_name, role, department, status, end_date, shift, vendor``.

- ``user_id``: the HIS account (``user.id`` in the logs); required, unique.
- ``full_name``: optional.
- ``role``: several roles separated by ``;``, ``|`` or ``,`` (quoted); classified by
  ``sensors.context.vocabulary`` (empty: unknown).
- ``department``: a department code, compared without regard to case (empty: unknown).
- ``status`` (case-insensitive): ``active`` (also when empty) or ``on_leave``; ``disabled``,
  ``terminated``, ``suspended``, ``locked``: the account must not be used at all;
  ``inactive``, ``left``, ``resigned``, ``retired``: the person has left and ``end_date`` is
  their last working day (without one, the account must not be used at all); the
  Vietnamese words of ``STATUS_WORDS`` too. Any other word is reported once and the
  account is judged by its ``end_date`` alone, so a new word in an HR export is noticed
  rather than guessed at — and costs only that field.
- ``end_date``: ``YYYY-MM-DD``, the last day the account may be used: the last working day
  of a leaver, the end of a vendor's contract. Activity is *after* it from the local
  midnight ending that day, or, for a shift running past midnight (``night``), from the
  end of that shift plus the tolerance, so a leaver's last night shift is not flagged.
- ``shift``: see :mod:`sensors.context.shifts`; empty, or a word the shifts do not know
  (reported once per word), leaves the shift unknown: no off-shift fields.
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
from sensors.context.vocabulary import normalise

COLUMNS = ("user_id", "full_name", "role", "department", "status", "end_date", "shift",
           "vendor")

#: Statuses whose account may be used (until ``end_date``, if one is given).
ACTIVE_STATUSES = frozenset({"active", "on_leave"})
#: Statuses whose account must not be used at all.
BLOCKED_STATUSES = frozenset({"disabled", "terminated", "suspended", "locked"})
#: Statuses of people who left: the account may be used until ``end_date``.
LEFT_STATUSES = frozenset({"inactive", "left", "resigned", "retired"})

#: Other words HR exports use for the statuses (compared without diacritics or case).
STATUS_WORDS: dict[str, str] = {
    "dang lam viec": "active", "dang lam": "active", "hoat dong": "active",
    "dang cong tac": "active", "enabled": "active", "working": "active",
    "nghi phep": "on_leave", "nghi thai san": "on_leave", "leave": "on_leave",
    "on leave": "on_leave",
    "khoa": "locked", "tam khoa": "suspended", "vo hieu hoa": "disabled",
    "cham dut hop dong": "terminated", "da cham dut": "terminated",
    "nghi viec": "left", "da nghi viec": "left", "thoi viec": "left", "nghi huu": "retired",
    "chuyen cong tac": "left", "transferred": "left",
}

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
    """Read ``path``; ``FileRejected`` if unusable as a whole; a row without an account id
    (or a duplicate) is skipped and reported; a word the roster's columns do not know (a
    shift, a status, a date) leaves that one field unknown and is reported once."""
    staff: dict[str, StaffMember] = {}
    report = LoadReport(path)

    def row(values: list[str]) -> None:
        (user_id, full_name, role, department, status, end_text, shift_text, vendor,
         national_id) = values
        if not user_id:
            raise RowError("user_id", "empty account id")
        if user_id in staff:
            raise RowError("user_id", f"duplicate account {user_id!r} (the first row is kept)")
        roles = tuple(r for r in _ROLE_SPLIT.split(role) if r)
        status = STATUS_WORDS.get(normalise(status), status.lower()) if status else "active"
        if status not in ACTIVE_STATUSES | BLOCKED_STATUSES | LEFT_STATUSES:
            report.note_unknown("status", status)  # judged by its end_date alone
        end: date | None = None
        if end_text:
            try:
                end = date.fromisoformat(end_text)
            except ValueError:
                report.note_unknown("end_date", end_text)
        try:
            shift = shifts.resolve(shift_text)
        except ValueError:
            report.note_unknown("shift", shift_text)
            shift = None
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

    read_csv(path, COLUMNS, row, optional=("national_id",), report=report)
    return Roster(staff, report)


def _ended_from(status: str, end: date | None, shift: Shift | None, zone: ZoneOffsets,
                tolerance_minutes: int) -> float:
    """The epoch from which using the account counts as activity after it ended."""
    if status in BLOCKED_STATUSES or (status in LEFT_STATUSES and end is None):
        return -_INF  # an unknown status word is neither: only its end date counts
    if end is None:
        return _INF
    after_day = zone.midnight(day_after(end))
    if shift is None or shift.last_minute <= 1440:
        return after_day
    # a shift starting on the last day and running past midnight may be worked to its end
    return max(after_day, zone.midnight(end) + (shift.last_minute + tolerance_minutes) * 60)
