"""The facts of one report, typed: what the documents print and the signed copy carries.

One model feeds the report to the Department, the breach notification (Mẫu số 08) and the
JSON copy, so the three can never disagree. Every string here has already been through
``safe_text`` (escaped, bounded, NFC); every time is timezone-aware UTC (documents show
them in the hospital's zone). ``extra="forbid"`` makes the JSON Schema closed, so a
verifier refuses a copy with fields it does not know.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


#: A timezone-aware time, held in UTC.
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
Count = Annotated[int, Field(ge=0)]


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Fact):
    """A staff account involved: the HIS user id and what the roster says of it."""

    id: str
    name: str = ""
    roles: tuple[str, ...] = ()
    department: str = ""


class Workstation(_Fact):
    host: str = ""
    ip: str = ""


class RuleHit(_Fact):
    """One alert of the incident: which rule, how bad, its sentence, its window."""

    alert_id: str
    rule_id: str
    title: str
    severity: str
    explanation: str
    window_start: UtcTime
    window_end: UtcTime
    event_count: Count


class Measure(_Fact):
    """A measure or decision, with when and by whom when the history says so."""

    text: str
    at: UtcTime | None = None
    by: str = ""


class Notified(_Fact):
    """Someone else told of the incident (police, patients, the HIS vendor)."""

    recipient: str
    at: UtcTime
    channel: str = ""


class AffectedPatient(_Fact):
    """One patient in the annex: a pseudonym only, never the hospital's id."""

    pseudonym: str
    accesses: Count
    first_access: UtcTime | None = None
    last_access: UtcTime | None = None


class ContactFacts(_Fact):
    name: str
    title: str = ""
    phone: str
    email: str


class ReportFacts(_Fact):
    """Everything a report states about one incident."""

    hospital_id: str
    hospital_name: str
    incident_id: str
    incident_status: str
    severity: str
    #: When phiwatch first processed an alert of the incident: the 72-hour clock's start.
    detected_at: UtcTime
    detection_method: str
    #: First and last evidence times; None when no evidence time is known.
    occurred_from: UtcTime | None = None
    occurred_to: UtcTime | None = None
    alerts: tuple[RuleHit, ...]
    systems: tuple[str, ...] = ()
    accounts: tuple[Account, ...] = ()
    workstations: tuple[Workstation, ...] = ()
    destinations: tuple[str, ...] = ()
    data_categories: tuple[str, ...]
    #: Health data is sensitive personal data (Law 91/2025/QH15): always true for a HIS leak.
    sensitive_data: bool = True
    patients_count: Count
    records_count: Count
    #: "evidence": counted from the events; "alerts": the alerts' own counts (a lower bound).
    counts_basis: Literal["evidence", "alerts"]
    bytes_out: Count | None = None
    cause: tuple[str, ...] = ()
    consequences: tuple[str, ...] = ()
    measures_taken: tuple[Measure, ...] = ()
    measures_planned: tuple[str, ...] = ()
    notified: tuple[Notified, ...] = ()
    contact: ContactFacts
    affected_patients: tuple[AffectedPatient, ...] = ()
    prepared_at: UtcTime
