"""Care relationships (``encounters.csv``): which department cares for which patient when.

Columns: ``patient_id, department, start, end``. ``start`` is required, ``end`` empty while
the patient is still in the department's care. Times are ISO 8601 (with or without an
offset; without one they are wall-clock time in the configured zone) or the other forms
``sensors.timestamps.parse_timestamp`` reads. An end before the start is a bad row.
Department codes are compared without regard to case.

The question asked on every event, "does department D have an encounter with patient P
at time t", must not scan a patient's history: encounters are indexed per patient, then
per department, as sorted disjoint intervals (overlapping or touching encounters of one
department are merged at load), so the answer is two dict lookups and one ``bisect``.

``maternity`` is the set of patients with at least one encounter, at any time in the file,
in a maternity department (obstetrics, postpartum, neonatal: ``Vocabulary.is_maternity``):
the patients whose contact details were sold in the 2024 leak.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from sensors.context.csvfile import LoadReport, RowError, read_csv
from sensors.timestamps import parse_timestamp

COLUMNS = ("patient_id", "department", "start", "end")
_INF = float("inf")

#: (sorted starts, ends) of one department's disjoint encounters with one patient.
Intervals = tuple[tuple[float, ...], tuple[float, ...]]


class Encounters:
    """Encounters by patient and department; an empty, never-loaded index answers False."""

    def __init__(self, index: dict[str, dict[str, Intervals]] | None = None,
                 maternity: frozenset[str] = frozenset(),
                 report: LoadReport | None = None) -> None:
        self.index = index if index is not None else {}
        self.maternity = maternity
        self.report = report
        self.loaded = report is not None

    def has(self, patient_id: str, department: str, epoch: float) -> bool:
        """Whether ``department`` has an encounter with ``patient_id`` at ``epoch``."""
        by_dept = self.index.get(patient_id)
        if by_dept is None:
            return False
        found = by_dept.get(department)
        if found is None:
            return False
        starts, ends = found
        i = bisect_right(starts, epoch) - 1
        return i >= 0 and epoch <= ends[i]

    def in_care(self, patient_id: str, epoch: float) -> bool:
        """Whether any department has an encounter with ``patient_id`` at ``epoch``.

        Desk and service roles (reception, billing, laboratory, pharmacy) work for every
        ward: for them the question is whether the patient is in the hospital at all.
        """
        by_dept = self.index.get(patient_id)
        if not by_dept:
            return False
        for starts, ends in by_dept.values():
            i = bisect_right(starts, epoch) - 1
            if i >= 0 and epoch <= ends[i]:
                return True
        return False

    def departments(self, patient_id: str) -> list[str]:
        """The departments that ever had an encounter with ``patient_id``."""
        return sorted(self.index.get(patient_id, ()))

    def __len__(self) -> int:
        """How many patients have encounters."""
        return len(self.index)


def load_encounters(path: Path, zone: ZoneInfo, is_maternity: Callable[[str], bool],
                    grace_before: float = 0.0, grace_after: float = 0.0) -> Encounters:
    """Read ``path``; ``FileRejected`` if unusable as a whole, bad rows skipped and reported.

    Each encounter counts as a care relationship from ``grace_before`` seconds before its
    start (registration, triage) to ``grace_after`` seconds after its end (discharge
    letters, results that arrive later), as the HIS records encounters more narrowly than
    the care around them.
    """
    raw: dict[str, dict[str, list[tuple[float, float]]]] = {}

    def when(column: str, text: str) -> float:
        try:
            return parse_timestamp(text, zone).timestamp()
        except ValueError as e:
            raise RowError(column, str(e)) from None

    def row(values: list[str]) -> None:
        patient_id, department, start_text, end_text = values
        if not patient_id:
            raise RowError("patient_id", "empty patient id")
        if not department:
            raise RowError("department", "empty department")
        if not start_text:
            raise RowError("start", "empty start time")
        start = when("start", start_text)
        end = when("end", end_text) if end_text else _INF
        if end < start:
            raise RowError("end", f"{end_text!r} is before the start {start_text!r}")
        raw.setdefault(patient_id, {}).setdefault(department.lower(), []).append(
            (start - grace_before, end + grace_after))

    report = read_csv(path, COLUMNS, row)
    index = {p: {d: _merge(spans) for d, spans in depts.items()} for p, depts in raw.items()}
    wanted = {d for depts in raw.values() for d in depts if is_maternity(d)}
    maternity = frozenset(p for p, depts in raw.items() if not wanted.isdisjoint(depts))
    return Encounters(index, maternity, report)


def _merge(spans: list[tuple[float, float]]) -> Intervals:
    """Sorted, disjoint intervals covering exactly the union of ``spans``."""
    spans.sort()
    starts: list[float] = []
    ends: list[float] = []
    for s, e in spans:
        if ends and s <= ends[-1]:
            if e > ends[-1]:
                ends[-1] = e
        else:
            starts.append(s)
            ends.append(e)
    return (tuple(starts), tuple(ends))
