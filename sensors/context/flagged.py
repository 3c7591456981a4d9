"""Flagged patients (``flagged_patients.csv``): records that deserve a second look.

Columns: ``patient_id, reason``, both required. A patient may be listed several times
with different reasons (a staff member who is also under a protection order); the
reasons are kept in file order without repeats. Reasons are free text as the hospital
writes them (the simulator's: ``public_figure``, ``staff_member``, ``protection_order``,
``confidential_adoption``, ``police_case``), stripped of surrounding spaces.
"""

from __future__ import annotations

from pathlib import Path

from sensors.context.csvfile import LoadReport, RowError, read_csv

COLUMNS = ("patient_id", "reason")


class FlaggedPatients:
    """Reasons by patient id; an empty, never-loaded list adds nothing to events."""

    def __init__(self, reasons: dict[str, tuple[str, ...]] | None = None,
                 report: LoadReport | None = None) -> None:
        self.reasons = reasons if reasons is not None else {}
        self.report = report
        self.loaded = report is not None

    def get(self, patient_id: str) -> tuple[str, ...] | None:
        return self.reasons.get(patient_id)

    def __len__(self) -> int:
        return len(self.reasons)


def load_flagged(path: Path) -> FlaggedPatients:
    """Read ``path``; ``FileRejected`` if unusable as a whole, bad rows skipped and reported."""
    reasons: dict[str, list[str]] = {}

    def row(values: list[str]) -> None:
        patient_id, reason = values
        if not patient_id:
            raise RowError("patient_id", "empty patient id")
        if not reason:
            raise RowError("reason", "empty reason")
        listed = reasons.setdefault(patient_id, [])
        if reason not in listed:
            listed.append(reason)

    report = read_csv(path, COLUMNS, row)
    return FlaggedPatients({p: tuple(r) for p, r in reasons.items()}, report)
