"""``Context``: the version of every context file currently in force, swapped atomically.

Each file is loaded into a new, complete object which then replaces the old one with a
single attribute assignment, so a reader (the enricher, on another thread than the
watcher) sees either the old file or the new one, never a mix. A file that fails as a
whole (``FileRejected``) leaves the last good version in force; the reason is logged,
kept in ``status[kind].last_error`` and counted in ``status[kind].failures``. Until a file
has loaded once, its placeholder is empty and marked not ``loaded``, and the enricher adds
none of the fields that depend on it.

A file is identified by (device, inode, modification time in ns, size), so both an edit
in place and a replacement by rename are noticed; a file that changes while it is being
read is read again at the next poll rather than used.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sensors.context.config import ContextConfig
from sensors.context.csvfile import FileRejected, LoadReport
from sensors.context.encounters import Encounters, load_encounters
from sensors.context.flagged import FlaggedPatients, load_flagged
from sensors.context.localtime import ZoneOffsets
from sensors.context.networks import InternalNetworks
from sensors.context.patients import PatientIds, load_patients
from sensors.context.roster import Roster, load_roster
from sensors.context.shifts import ShiftBook
from sensors.context.vocabulary import Vocabulary
from sensors.context.workstations import Workstations, load_workstations
from sensors.timestamps import DEFAULT_ZONE, get_zone

log = logging.getLogger(__name__)

#: The file kinds, as named in the configuration.
KINDS = ("roster", "flagged_patients", "encounters", "workstations", "patients")
#: How many bad-row messages one load writes to the log (all are kept in the status).
LOGGED_PROBLEMS = 5

Signature = tuple[int, int, int, int]


def signature(path: Path) -> Signature | None:
    """What identifies one version of a file, or None when it cannot be seen."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class FileStatus:
    """The state of one configured file, for the log, metrics and the operator."""

    kind: str
    path: Path
    #: Successful loads and whole-file rejections since start.
    loads: int = 0
    failures: int = 0
    #: Rows read, used and skipped in the version in force; its bad-row messages.
    rows: int = 0
    used: int = 0
    bad_rows: int = 0
    problems: list[str] = field(default_factory=list)
    #: Values that left one field of a row unknown: column → value → rows.
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Why the last attempt was rejected (None once a later version loads).
    last_error: str | None = None
    #: Wall-clock time the version in force was loaded, and its signature.
    loaded_at: float | None = None
    signature: Signature | None = None
    #: The signature last tried, good or bad: a rejected version is not retried.
    attempted: Signature | None = None


class Context:
    """The current roster, flagged patients, encounters and internal networks."""

    def __init__(self, config: ContextConfig, default_timezone: str = DEFAULT_ZONE) -> None:
        self.config = config
        self.zone = get_zone(config.timezone or default_timezone)
        self.shifts = ShiftBook(config.shifts)
        self.vocabulary = Vocabulary(config.vocabulary.roles, config.vocabulary.departments,
                                     tuple(config.maternity_departments),
                                     config.vocabulary.department_names)
        self.tolerance_minutes = config.shift_tolerance_minutes
        self.networks = InternalNetworks(config.internal_networks)
        self.roster = Roster()
        self.flagged = FlaggedPatients()
        self.encounters = Encounters()
        self.workstations = Workstations()
        self.patients = PatientIds()
        self.status: dict[str, FileStatus] = {
            kind: FileStatus(kind, path) for kind, path in config.files().items()
        }
        self._offsets = ZoneOffsets(self.zone)  # only ``midnight``: safe from any thread
        self._lock = threading.Lock()
        self._loaders: dict[str, Callable[[Path], Any]] = {
            "roster": lambda p: load_roster(p, self.shifts, self._offsets,
                                            self.tolerance_minutes),
            "flagged_patients": load_flagged,
            "workstations": load_workstations,
            "patients": load_patients,
            "encounters": lambda p: load_encounters(
                p, self.zone, self.vocabulary.is_maternity,
                config.care_grace_before_minutes * 60.0, config.care_grace_after_hours * 3600.0),
        }

    def load_all(self) -> None:
        """Load every configured file; one that fails is logged and stays empty."""
        for kind in self.status:
            self.reload(kind)

    def changed(self) -> list[str]:
        """The kinds whose file differs from the version last tried."""
        return [k for k, st in self.status.items() if signature(st.path) != st.attempted]

    def reload(self, kind: str) -> bool:
        """Load ``kind``'s file now; whether a new version came into force."""
        with self._lock:
            st = self.status[kind]
            before = signature(st.path)
            st.attempted = before
            try:
                loaded = self._loaders[kind](st.path)
            except FileRejected as e:
                st.failures += 1
                st.last_error = str(e)
                log.warning("context file rejected: %s; %s", e, self._in_force(st))
                return False
            if signature(st.path) != before:
                st.attempted = None  # written to while read: read it again next time
                log.info("context file %s changed while being read; reading it again", st.path)
                return False
            setattr(self, _ATTRIBUTE[kind], loaded)  # the atomic swap
            self._record(st, loaded.report, before)
            return True

    def counters(self) -> dict[str, int]:
        """Counters for metrics: ``context_<kind>_{loads,failures,rows,bad_rows,
    unknown_values}``."""
        out: dict[str, int] = {}
        for kind, st in self.status.items():
            for name in ("loads", "failures", "rows", "bad_rows"):
                out[f"context_{kind}_{name}"] = getattr(st, name)
            out[f"context_{kind}_unknown_values"] = sum(len(v) for v in st.unknown.values())
        return out

    def _record(self, st: FileStatus, report: LoadReport, sig: Signature | None) -> None:
        st.loads += 1
        st.last_error = None
        st.loaded_at = time.time()
        st.signature = sig
        st.rows, st.used, st.bad_rows = report.rows, report.used, report.bad_rows
        st.problems = list(report.problems)
        st.unknown = {c: dict(v) for c, v in report.unknown.items()}
        for column, values in report.unknown.items():
            for value, rows in values.items():
                log.warning("context file %s: unknown %s %r in %d row(s): that field is left "
                            "unknown for them (`phiwatch context check` says what it "
                            "switches off and how to map it)", st.path, column, value, rows)
        if report.bad_rows:
            log.warning("context file %s: %d of %d rows skipped", st.path, report.bad_rows,
                        report.rows)
            for p in report.problems[:LOGGED_PROBLEMS]:
                log.warning("  %s", p)
            more = report.bad_rows - min(LOGGED_PROBLEMS, len(report.problems))
            if more > 0:
                log.warning("  ... and %d more", more)
        log.info("context file %s loaded: %d rows used", st.path, report.used)

    @staticmethod
    def _in_force(st: FileStatus) -> str:
        if st.loaded_at is None:
            return "no earlier version: its fields are not added to events"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.loaded_at))
        return f"keeping the version loaded at {when} ({st.used} rows)"


_ATTRIBUTE = {"roster": "roster", "flagged_patients": "flagged", "encounters": "encounters",
              "workstations": "workstations", "patients": "patients"}
