"""The demo's ending: the worst leak found, confirmed, drafted, approved, written out.

Everything goes through the same use cases as the API (``phiwatch.reporting``), on the
demo's own store, with a fictional hospital profile and a signing key made in the demo's
state folder. Time is event time, as everywhere in a replay: the demo analyst confirms
the leak a quarter of an hour after the simulated day's last alert and approves the
drafts a quarter of an hour later, well inside the 72 hours. No recipient is configured,
so nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from alerting.incident import Incident
from alerting.incident_store import IncidentQuery
from alerting.reports.config import ReportsConfig
from alerting.reports.sample import sample_hospital
from alerting.reports.signing import write_key_pair
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.config import Config
from phiwatch.groundtruth import LOOKUP_THEN_UPLOAD
from phiwatch.report_parts import open_report_parts
from phiwatch.reporting import (
    EveryHospital,
    approve_reports,
    draft_reports,
    write_documents,
)
from rules.alert import Alert

ACTOR = "demo.it"
HARVEST_THEN_UPLOAD = (LOOKUP_THEN_UPLOAD, "phiwatch-his-no-care-volume")


@dataclass(frozen=True)
class DemoReport:
    summary: str
    files: list[Path]


def worst(incidents: list[Incident]) -> Incident | None:
    """The leak to report: records harvested then uploaded, else the most severe."""
    if not incidents:
        return None
    return min(incidents, key=lambda i: (
        not any(r in HARVEST_THEN_UPLOAD for r in i.rule_ids), -i.severity_rank,
        -len(i.alerts), i.first_seen, i.id))


def write_demo_report(config: Config, store: SQLiteAlertStore, alerts: list[Alert],
                      out: Path) -> DemoReport | None:
    """Confirm, draft, approve and write the worst incident's documents to ``out``."""
    incident = worst(store.query_incidents(IncidentQuery(organization_id=config.organization.id,
                                                         limit=1000)))
    if incident is None or not alerts:
        return None
    hospital = sample_hospital().model_copy(update={"id": config.organization.id})
    config = config.model_copy(update={"reports": ReportsConfig(hospital=hospital)})
    parts = open_report_parts(config)
    assert parts is not None
    try:
        if not parts.key_path.exists():
            write_key_pair(parts.key_path.parent, hospital.id)
        confirmed = max(a.window_end for a in alerts) + timedelta(minutes=15)
        confirmed = max(confirmed, incident.detected_at)
        if incident.status != "confirmed_leak":
            store.change_status(incident.id, "confirmed_leak", ACTOR,
                                "Demo: đã đối chiếu nhật ký, xác nhận lộ lọt dữ liệu người bệnh",
                                at=confirmed)
        draft_reports(parts, store, incident.id, scope=EveryHospital(), actor=ACTOR,
                      now=confirmed)
        issued = approve_reports(parts, store, incident.id, scope=EveryHospital(),
                                 actor=ACTOR, now=confirmed + timedelta(minutes=15),
                                 comment="Demo: phê duyệt báo cáo")
    finally:
        parts.close()
    numbers = " and ".join(r.number_text or "" for r in issued)
    facts = issued[0].facts
    basis = "read back from the logs" if facts.counts_basis == "evidence" else \
        "the alerts' counts, a lower bound"
    summary = (f"incident {incident.id} ({incident.principal}) confirmed by {ACTOR}; "
               f"{numbers} issued and signed, not sent (the demo has no recipient); "
               f"{facts.patients_count} patient(s), {facts.records_count} record(s) "
               f"({basis}). Written to {out}:")
    return DemoReport(summary, write_documents(issued, out))
