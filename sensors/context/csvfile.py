"""Strict reading of one context CSV file: a good file, or a reason naming file, line, column.

Context files are exported by other systems (the HR database, the HIS) and edited by hand,
so they are read defensively but never silently:

- the file must be UTF-8 (a byte-order mark is allowed) with a header row naming every
  expected column (case and surrounding spaces do not matter; extra columns are ignored);
- a row that cannot be used at all (no account id, a duplicate) is skipped, counted, and
  reported as ``path:line: column N 'name': what is wrong``; a value the loader does not
  understand in an optional column (a shift word, a status, a date) only makes that field
  unknown for that row (``LoadReport.note_unknown``), warned once per distinct value;
- the file is *rejected as a whole* (``FileRejected``) when it cannot be read, is empty,
  is not UTF-8 CSV, lacks a column, or when more than ``MAX_BAD_FRACTION`` of its rows
  (and more than ``MAX_BAD_TOLERATED``) are bad: such a file is a broken export or a
  half-saved edit, and keeping the last good version is safer than using what is left.

Line numbers are physical lines (``csv.reader.line_num``): a quoted value spanning lines
is reported at the line where its row ends.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sensors.errors import InputError

#: A file with more bad rows than this fraction (and than ``MAX_BAD_TOLERATED``) is rejected.
MAX_BAD_FRACTION = 0.10
#: This many bad rows are always tolerated, so a small file with a few typos still loads.
MAX_BAD_TOLERATED = 20
#: How many bad-row messages one load keeps (the count is always exact).
MAX_REPORTED = 50


class FileRejected(InputError):
    """The file as a whole is unusable; the message names the file and the reason."""


class RowError(InputError, ValueError):
    """One value of one row is unusable; raised by a row parser, naming the column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class LoadReport:
    """What one load of one file found: rows read, rows used, and the bad ones."""

    path: Path
    rows: int = 0
    used: int = 0
    bad_rows: int = 0
    problems: list[str] = field(default_factory=list)
    #: Values that made one field of a row unknown (the row was used): column → value →
    #: rows. An unknown word costs that one field, never the row or the file.
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_problem(self, message: str) -> None:
        self.bad_rows += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(message)

    def note_unknown(self, column: str, value: str) -> None:
        """A value that leaves one field unknown (counted per distinct value)."""
        values = self.unknown.setdefault(column, {})
        if value in values or len(values) < MAX_REPORTED:
            values[value] = values.get(value, 0) + 1


def read_csv(
    path: Path,
    columns: Sequence[str],
    parse_row: Callable[[list[str]], None],
    optional: Sequence[str] = (),
    report: LoadReport | None = None,
) -> LoadReport:
    """Feed every data row of ``path`` to ``parse_row`` as values in ``columns`` order,
    then the ``optional`` columns' values ("" where the file has no such column).

    Values are stripped of surrounding spaces. ``parse_row`` raises ``RowError`` for a bad
    row, which is then skipped and reported; ``FileRejected`` is raised for a bad file.
    """
    report = report if report is not None else LoadReport(path)
    try:
        if os.stat(path).st_size == 0:
            raise FileRejected(f"{path}: empty file (a half-written export?)")
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except FileRejected:
        raise
    except OSError as e:
        raise FileRejected(f"{path}: cannot read: {e.strerror or e}") from e
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            index = _header(path, header, columns)
            width = max(index) + 1
            names = [c.strip().lower() for c in header or ()]
            extra = [names.index(c) if c in names else -1 for c in optional]
            every = [*columns, *optional]
            positions = [*index, *extra]
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                report.rows += 1
                if len(row) < width:
                    report.add_problem(
                        f"{path}:{reader.line_num}: {len(row)} values, expected at least "
                        f"{width} (one per header column)"
                    )
                    continue
                values = [row[i].strip() for i in index]
                if extra:
                    values += [row[i].strip() if 0 <= i < len(row) else "" for i in extra]
                try:
                    parse_row(values)
                except RowError as e:
                    col = positions[every.index(e.column)] + 1
                    report.add_problem(
                        f"{path}:{reader.line_num}: column {col} {e.column!r}: {e.message}"
                    )
                    continue
                report.used += 1
        except UnicodeDecodeError as e:
            raise FileRejected(
                f"{path}:{reader.line_num + 1}: not UTF-8 text ({e.reason} at byte "
                f"{e.start} of a read block)"
            ) from e
        except csv.Error as e:
            raise FileRejected(f"{path}:{reader.line_num}: not readable as CSV: {e}") from e
        except OSError as e:
            raise FileRejected(f"{path}: read failed: {e.strerror or e}") from e
    if report.bad_rows > max(MAX_BAD_TOLERATED, MAX_BAD_FRACTION * report.rows):
        first = report.problems[0] if report.problems else ""
        raise FileRejected(
            f"{path}: {report.bad_rows} of {report.rows} rows are bad (more than "
            f"{MAX_BAD_FRACTION:.0%}); first: {first}"
        )
    return report


def _header(path: Path, row: list[str] | None, columns: Sequence[str]) -> list[int]:
    """For each expected column, its index in the file; ``FileRejected`` if one is missing."""
    if row is None:
        raise FileRejected(f"{path}: empty file (a half-written export?)")
    names = [c.strip().lower() for c in row]
    missing = [c for c in columns if c not in names]
    if missing:
        shown = ", ".join(repr(n) for n in names[:10])
        raise FileRejected(
            f"{path}:1: header lacks column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (expected {', '.join(columns)}; found {shown})"
        )
    return [names.index(c) for c in columns]
