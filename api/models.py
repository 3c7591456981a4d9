"""The shapes the API takes and gives, as pydantic models: they are the OpenAPI schema.

Every response model forbids nothing and adds nothing: what a route returns is built
field by field from the service's plain data after ``api.pseudonyms`` has rendered it, so
no store document is ever passed through as it is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from phiwatch.service import MAX_NOTE_CHARS

Status = Literal["new", "investigating", "confirmed_leak", "false_positive", "reported",
                 "closed"]
Severity = Literal["informational", "low", "medium", "high", "critical"]
AlertSortName = Literal["newest", "oldest", "severity"]
IncidentSortName = Literal["newest", "oldest", "severity", "active", "detected"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: Free text a person writes (a comment, a note): not blank.
Text = Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS),
                 AfterValidator(_not_blank)]


class ErrorOut(BaseModel):
    error: str
    message: str
    request_id: str
    field: str | None = None


class HealthOut(BaseModel):
    status: str


class MeOut(BaseModel):
    subject: str
    role: str
    hospital: str | None
    expires: datetime


class EvidenceOut(BaseModel):
    """One piece of evidence: where the event was read (``path:line``), its id, its time."""

    timestamp: datetime
    ref: str
    event_id: str
    alert_id: str | None = None


class AlertOut(BaseModel):
    id: str
    organization_id: str | None
    rule_id: str
    rule_title: str
    severity: str
    window_start: datetime
    window_end: datetime
    event_count: int
    value_count: int | None
    explanation: str
    group: dict[str, Any]
    context: dict[str, Any]
    metrics: dict[str, float]
    tags: list[str]
    revision: int
    final: bool
    first_event: EvidenceOut
    last_event: EvidenceOut
    sample: list[EvidenceOut]


class AlertPageOut(BaseModel):
    items: list[AlertOut]
    #: Pass as ``cursor`` for the next page; null on the last one.
    next_cursor: str | None
    #: How many match in all; null when not counted (words searched in pseudonymized text).
    total: int | None
    #: True when the page stopped early after looking at many candidates; follow
    #: ``next_cursor`` for more.
    scanned_out: bool = False


class StatusChangeOut(BaseModel):
    at: datetime
    actor: str
    role: str | None
    from_status: str | None
    to_status: str
    comment: str


class NoteOut(BaseModel):
    id: str
    incident_id: str
    organization_id: str | None
    at: datetime
    actor: str
    role: str | None
    kind: str
    text: str


class IncidentSummaryOut(BaseModel):
    id: str
    organization_id: str | None
    principal: str
    status: str
    version: int
    severity: str
    detected_at: datetime
    #: The 72-hour deadline to notify (``detected_at`` + 72 h, Law 91/2025 Art. 23).
    deadline: datetime
    #: ok, warn (48 h), urgent (70 h), overdue, sent, sent_late, or dismissed.
    clock: str
    first_seen: datetime
    last_seen: datetime
    alert_count: int
    event_count: int
    rule_ids: list[str]
    summary: str


class IncidentOut(IncidentSummaryOut):
    #: Statuses this incident may move to now.
    next_statuses: list[str]
    history: list[StatusChangeOut]
    alerts: list[AlertOut]
    #: Every alert's evidence, oldest first.
    evidence: list[EvidenceOut]
    notes: list[NoteOut]


class IncidentPageOut(BaseModel):
    items: list[IncidentSummaryOut]
    next_cursor: str | None
    total: int | None
    scanned_out: bool = False


class StatusChangeIn(_In):
    to: Status
    #: Why: mandatory, kept in the history.
    comment: Text
    #: The ``version`` you read; a change made by someone since is a 409.
    expected_version: Annotated[int | None, Field(ge=0, le=2**53)] = None


class NoteIn(_In):
    text: Text


class RuleOut(BaseModel):
    id: str
    title: str
    severity: str
    kind: str
    path: str
    alerts: bool
    enabled: bool
    disabled_by: str | None = None
    disabled_at: datetime | None = None
    comment: str | None = None


class RuleStateIn(_In):
    enabled: bool
    comment: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]


class RuleValidateIn(_In):
    #: One rule file's YAML; absent: validate the configured rule folders.
    rule_yaml: Annotated[str | None, Field(max_length=262_144)] = None


class RuleProblemOut(BaseModel):
    path: str
    rule: str | None
    level: str
    message: str


class RuleValidationOut(BaseModel):
    ok: bool
    ready: int
    problems: list[RuleProblemOut]


class DayCountOut(BaseModel):
    day: date
    key: str | None
    count: int


class AlertStatsOut(BaseModel):
    start: datetime
    end: datetime
    timezone: str
    by_rule: list[DayCountOut]
    by_hospital: list[DayCountOut]
    total: int


class AgeCountOut(BaseModel):
    status: str
    age: str
    count: int


class IncidentStatsOut(BaseModel):
    by_status: dict[str, int]
    by_age: list[AgeCountOut]
    total: int


class AuditRecordOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    hospital: str | None
    method: str
    route: str
    objects: list[str]
    identifiers: int
    request_id: str
    reason: str | None
    status: int
    prev: str
    hash: str


class AuditPageOut(BaseModel):
    items: list[AuditRecordOut]
    #: Pass as ``after`` for the next page; null on the last one.
    next_after: int | None
