"""The events behind an incident's alerts, read back from the logs for the patient annex.

Alerts keep no patient ids, only where their evidence is (``path:line`` and the event's
time, for the first and last event and a sample). The report needs every patient
affected, so the lines between an alert's first and last event are read again, parsed
with the format the file is read with, and the events of the alert's user inside its
window are kept. That is cheap — one pass over a range of one log file per alert — and
exact, as long as the file is still there and its line numbers are the ones the pipeline
counted.

Each read is checked: the event at every referenced line must carry the referenced
time. When a file was rotated away, compressed, started mid-way (``start_at: end``
counts lines from there), spans several files, or the read would pass
``reports.evidence_max_lines``, the read-back is given up for the whole incident and the
report states the alerts' own counts, marked as a lower bound (``counts_basis``:
``alerts``). Network alerts (captures, flows) add no patients; their bytes come from the
alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from alerting.reports.facts import EvidenceRecord
from alerting.store import alert_user
from phiwatch.config import Config
from phiwatch.inputs import opener, source_for
from rules.alert import Alert, EventRef
from sensors.event import Event
from sensors.formats import FileParser

log = logging.getLogger(__name__)
_SAME_TIME = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What was read back; ``complete`` False: use the alerts' counts (``why`` says why)."""

    records: list[EvidenceRecord] = field(default_factory=list)
    complete: bool = False
    why: str = ""
    lines_read: int = 0


@dataclass(frozen=True, slots=True)
class _Span:
    """One alert's part of one file: lines ``first``–``last``, its user, its window."""

    first: int
    last: int
    user: str
    start: datetime
    end: datetime
    checks: tuple[tuple[int, datetime], ...]


def _line_of(ref: EventRef) -> tuple[str, int] | None:
    path, _, line = ref.ref.rpartition(":")
    return (path, int(line)) if path and line.isdigit() and int(line) > 0 else None


def _record(e: Event) -> EvidenceRecord:
    def text(name: str) -> str | None:
        v = e.get(name)
        return str(v) if v is not None and str(v).strip() else None

    count = e.get("his.record_count")
    return EvidenceRecord(
        timestamp=e.timestamp, patient_id=text("patient.id"), user_id=text("user.id"),
        user_name=text("user.full_name") or text("user.name"), host=text("host.name"),
        source_ip=text("source.ip"), module=text("his.module"), action=text("event.action"),
        record_count=int(count) if isinstance(count, int | float) and count > 0 else 1,
        bytes_out=0)


def _lines(path: Path, upto: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if n > upto:
                return
            yield n, raw.rstrip(b"\r\n")


def _parser(config: Config, path: Path) -> FileParser:
    source = source_for(config, path)
    return opener(config, source.parse)(str(path))


def read_evidence(config: Config, alerts: Sequence[Alert], *,
                  max_lines: int = 2_000_000) -> Evidence:
    """The events behind ``alerts`` (see the module's docstring); never raises for a file."""
    spans: dict[str, list[_Span]] = {}
    for alert in alerts:
        user = alert_user(alert)
        refs = [alert.first_event, *alert.sample, alert.last_event]
        located = [(loc, r) for r in refs if (loc := _line_of(r)) is not None]
        if user is None or not located:
            continue  # flows and captures (``path:#packet``): bytes, not patients
        if _line_of(alert.first_event) is None or _line_of(alert.last_event) is None:
            return Evidence(why=f"alert {alert.id}: its first or last event is not a log line")
        files = {loc[0] for loc, _ in located}
        if len(files) != 1:
            return Evidence(why=f"alert {alert.id}: its evidence spans {len(files)} files")
        lines = [loc[1] for loc, _ in located]
        checks = tuple((loc[1], r.timestamp) for loc, r in located)
        spans.setdefault(files.pop(), []).append(_Span(
            min(lines), max(lines), user, alert.window_start, alert.window_end, checks))
    if not spans:
        return Evidence(why="no alert points at log lines")
    records: list[EvidenceRecord] = []
    read = 0
    for name, file_spans in sorted(spans.items()):
        path = Path(name)
        try:
            parser = _parser(config, path)
        except (OSError, ValueError) as e:
            return Evidence(why=f"{name}: cannot be read again ({e})", lines_read=read)
        if parser.lines is None:
            continue  # a capture or another document: flows add bytes, not patients
        upto = max(s.last for s in file_spans)
        if read + upto > max_lines:
            return Evidence(why=f"{name}: reading {upto:,} lines would pass "
                                f"reports.evidence_max_lines ({max_lines:,})", lines_read=read)
        try:
            got, why = _read_file(path, parser, file_spans, upto)
        except OSError as e:
            return Evidence(why=f"{name}: {e.strerror or e}", lines_read=read)
        read += upto
        if why:
            return Evidence(why=f"{name}: {why}", lines_read=read)
        records += got
    records.sort(key=lambda r: r.timestamp)
    return Evidence(records, complete=True, lines_read=read)


def _read_file(path: Path, parser: FileParser, spans: list[_Span], upto: int
               ) -> tuple[list[EvidenceRecord], str]:
    """The matching records of one file, or a reason the file cannot be trusted."""
    assert parser.lines is not None
    if parser.prime is not None:
        with path.open("rb") as f:
            parser.prime(f.read(64 * 1024))
    want = {n: t for s in spans for n, t in s.checks}
    low = min(s.first for s in spans)
    found: list[EvidenceRecord] = []
    for n, data in _lines(path, upto):
        if n < low or not any(s.first <= n <= s.last for s in spans):
            continue
        try:
            events = parser.lines.parse(data, f"{path}:{n}")
        except Exception:  # a bad line counted nothing in the pipeline either
            events = []
        if n in want:
            expected = want.pop(n)
            if not any(abs(e.timestamp - expected) < _SAME_TIME for e in events):
                return [], (f"line {n} is not the event the alert names (rotated, "
                            "rewritten or counted from a later start?)")
        for e in events:
            if any(s.first <= n <= s.last and e.get("user.id") == s.user
                   and s.start <= e.timestamp <= s.end for s in spans):
                found.append(_record(e))
    if want:
        return [], f"line {min(want)} is past the end of the file"
    return found, ""
