"""Shared by the console's report tests: a world whose phiwatch issues Từ Dũ's reports
and is the Department's inbox too, incidents detected relative to the wall clock, the
console served on a fixed port, and the report machinery as the run loop opens it.

Từ Dũ's report to the Department goes by webhook to this same instance's
``/inbox/reports`` (so the Department reads what a hospital really sent), its breach
notification to a route that does not exist (refused for good: a failed delivery to
send again). Incidents of the shared console world are detected on a fixed day long
past; these are detected an hour ago (on time) or 100 hours ago (late), whatever day
the tests run.
"""

from __future__ import annotations

import re
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from apikit import World, make_alert
from consolekit import Console, csrf, populate, serve
from runkit import his_line

from alerting.grouping import IncidentGrouper
from alerting.reports import sample
from alerting.reports.drafting import finalize
from alerting.reports.inbox import Submission, accept
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.signing import load_signing_key
from phiwatch.report_parts import ReportParts, open_report_parts
from phiwatch.service import reports
from rules.alert import Alert, EventRef

#: Incidents of Từ Dũ: name → (first alert number, hours since detection).
SEEDED: dict[str, tuple[int, int]] = {
    "on_time": (300, 1), "late": (302, 100), "browser": (304, 2), "rights": (306, 3),
    "failing": (308, 1),
}
COMMENT = "Giám đốc đã duyệt nội dung báo cáo"
_REPORT_ROW = re.compile(r'data-report="([^"]+)" data-state="([a-z]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReportWorld(World):
    """``World`` plus delivery targets and Từ Dũ incidents on the wall clock."""

    def __init__(self, backend: str, folder: Path, es_url: str | None = None) -> None:
        self.port = free_port()
        self.incidents: dict[str, str] = {}
        super().__init__(backend, folder, es_url)
        populate(self)
        self._seed()

    def reports_section(self) -> dict[str, Any]:
        section = super().reports_section()
        base = f"http://127.0.0.1:{self.port}"
        section.update({
            "webhook": {"secret": "tu-du-webhook-secret-0123456789", "allow_http": True,
                        "timeout_seconds": 10},
            "send_report_to": {"webhook": [f"{base}/inbox/reports"]},
            "send_notification_to": {"webhook": [f"{base}/no-such-inbox"]},
            "retry_base_seconds": 60, "retry_max_seconds": 600,
        })
        return section

    def _seed(self) -> None:
        now = datetime.now(UTC)
        store = self.open_store()
        try:
            for name, (n, hours) in SEEDED.items():
                start = now - timedelta(hours=hours + 2)
                user = f"nv7{n:04d}"
                pair = [self._evidenced(n, start, user),
                        self._evidenced(n + 1, start + timedelta(minutes=30), user)]
                store.write(pair)
                IncidentGrouper(store).add(pair, now - timedelta(hours=hours))
                incident = store.incident_of_alert(pair[0].id)
                assert incident is not None
                self.incidents[name] = incident.id
        finally:
            store.close()

    def _evidenced(self, n: int, start: datetime, user: str) -> Alert:
        """``make_alert`` whose evidence is in a log file here: the user's views of ten
        patients between its first and last event (read back when drafting)."""
        a = make_alert("tu-du", n, start=start, user=user)
        log = self.folder / "logs" / f"access-{n}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        first, last = a.first_event.timestamp, a.last_event.timestamp
        lines = [his_line(first + timedelta(seconds=2 * i), user, "view",
                          900_000 + n * 100 + i % 10) for i in range(499)]
        lines.append(his_line(last, user, "view", 900_000 + n * 100 + 1))
        log.write_bytes(b"".join(lines))
        first_ref = EventRef(f"{log}:1", a.first_event.event_id, first)
        last_ref = EventRef(f"{log}:{len(lines)}", a.last_event.event_id, last)
        return replace(a, first_event=first_ref, last_event=last_ref,
                       sample=[first_ref, last_ref])

    def serve_console(self) -> Console:
        return serve(self, api={"listen": f"127.0.0.1:{self.port}"})

    def parts(self) -> ReportParts:
        """The report machinery opened anew, as the run loop or `phiwatch report send
        --due` would beside the API process."""
        parts = open_report_parts(self.config())
        assert parts is not None
        return parts

    def deliver(self) -> None:
        """What the run loop does next: send what is due."""
        parts = self.parts()
        try:
            reports.deliver_due(parts, datetime.now(UTC) + timedelta(seconds=1))
        finally:
            parts.close()

    def receive(self, hospital: str, incident: str) -> str:
        """A report of another hospital, signed with its registered key, into the inbox
        (as its own phiwatch would have sent it); its id."""
        parts = self.parts()
        try:
            profile = sample.sample_hospital().model_copy(update={"id": hospital})
            facts = sample.sample_facts().model_copy(update={"hospital_id": hospital,
                                                             "incident_id": incident})
            key = load_signing_key(self.keys / f"{hospital}.key.pem", hospital)
            # Issued two hours after detection: on time whatever today's date (the
            # sample incident's dates are fixed; "now" would pass its 72-hour deadline).
            issued = finalize(facts, profile, key=key,
                              issued_at=facts.detected_at + timedelta(hours=2),
                              numbers=SQLiteReportNumbers(self.folder / f"n-{hospital}.db"))
            got = accept(Submission(issued.jws, issued.docx, issued.pdf), parts.keyring,
                         now=datetime.now(UTC))
            return parts.records.add_received(got).id
        finally:
            parts.close()


def report_rows(page: str) -> list[tuple[str, str]]:
    """(report id, state) of each row of a page's report table."""
    return _REPORT_ROW.findall(page)


def confirm(c: httpx.Client, incident: str) -> str:
    """Hospital IT confirms the leak through the status form; the page after it."""
    page = c.get(f"/console/incidents/{incident}").text
    version = re.search(r'name="expected_version" value="(\d+)"', page)
    assert version
    r = c.post(f"/console/incidents/{incident}/status", data={
        "csrf": csrf(page), "to": "confirmed_leak", "expected_version": version.group(1),
        "comment": "Đối chiếu lịch trực: không có lý do công việc; xác nhận lộ lọt"})
    assert r.status_code == 303, r.text[:500]
    return c.get(f"/console/incidents/{incident}").text
