"""The reports part of an incident's page: its records, as the API shows them to the
visitor, and which report actions the page offers.

The records are the API's ``GET /incidents/{id}/reports`` (``incident_reports``) called
with the visitor's ``Caller``: hospital IT sees its own hospital's drafts too, inspectors
the issued reports only. The forms are offered where the API would accept them; the API
still decides (a form posted anyway gets the API's answer).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.console.session import Viewer
from api.console.state import console
from api.models import IncidentOut
from api.report_models import ReportSummaryOut
from api.routes.reports import incident_reports
from phiwatch.service import reports

#: The kinds an approval issues together (both must be drafted first).
KINDS = len(reports.KINDS)


@dataclass(frozen=True, slots=True)
class ReportSection:
    records: list[ReportSummaryOut]
    #: Hospital IT of the issuing hospital may draft (or redraft) now.
    can_draft: bool
    #: Hospital IT may approve: both documents are drafted and not yet issued.
    can_approve: bool
    #: The 72-hour deadline has passed with nothing sent: approving needs a reason.
    late: bool

    @property
    def drafted(self) -> bool:
        return any(r.state == "draft" for r in self.records)


def report_section(request: Request, viewer: Viewer, incident: IncidentOut
                   ) -> ReportSection | None:
    """The section, or None when this phiwatch keeps no reports (no ``reports:``)."""
    parts = console(request).api.reports
    if parts is None:
        return None
    records = incident_reports(request, viewer.caller, incident.id)
    it = viewer.role == "hospital_it"
    issuer = parts.hospital.id if parts.hospital is not None else None
    drafts = [r for r in records if r.state == "draft"]
    all_issued = len(records) == KINDS and not drafts
    return ReportSection(
        records=records,
        can_draft=(it and issuer is not None and incident.organization_id == issuer
                   and incident.status == "confirmed_leak" and not all_issued),
        can_approve=(it and bool(drafts) and len(records) == KINDS
                     and incident.status in ("confirmed_leak", "reported", "closed")),
        late=incident.clock == "overdue",
    )
