"""Patients' national ids (``patients.csv``), to recognise staff opening their own record.

Columns: ``patient_id, national_id``; other columns (name, birth date …) are ignored and
never kept: phiwatch needs only the link between a patient record and a person, which
the roster's optional ``national_id`` column makes on the staff side. An empty national
id is skipped (many newborns have none).
"""

from __future__ import annotations

from pathlib import Path

from sensors.context.csvfile import LoadReport, RowError, read_csv

COLUMNS = ("patient_id", "national_id")


class PatientIds:
    """National id by patient id; an empty, never-loaded map adds nothing."""

    def __init__(self, national: dict[str, str] | None = None,
                 report: LoadReport | None = None) -> None:
        self.national = national if national is not None else {}
        self.report = report
        self.loaded = report is not None

    def __len__(self) -> int:
        return len(self.national)


def load_patients(path: Path) -> PatientIds:
    """Read ``path``; ``FileRejected`` if unusable as a whole, bad rows skipped and reported."""
    national: dict[str, str] = {}

    def row(values: list[str]) -> None:
        patient_id, national_id = values
        if not patient_id:
            raise RowError("patient_id", "empty patient id")
        if national_id:
            national[patient_id] = national_id

    report = read_csv(path, COLUMNS, row)
    return PatientIds(national, report)
