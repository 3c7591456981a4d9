"""The shapes of the report and inbox routes (OpenAPI schema), built field by field.

A report's ``facts`` are the signed copy's facts (``alerting/reports/schema``): patients
appear in them as pseudonyms only, so every response that carries them is written to the
access audit. Summaries carry no patient and are not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from phiwatch.service import reports

ReportStateName = Literal["draft", "issued", "delivered", "failed"]
KindName = Literal["department_report", "breach_notification"]
DocumentName = Literal["docx", "pdf", "jws"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Line = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_not_blank)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliveryOut(BaseModel):
    channel: str
    target: str
    #: pending, sending, delivered, failed (refused for good) or gave_up.
    state: str
    attempts: int
    last_error: str
    next_attempt: datetime | None
    delivered_at: datetime | None


class ReportSummaryOut(BaseModel):
    id: str
    hospital_id: str
    incident_id: str
    kind: KindName
    state: ReportStateName
    number: int | None
    #: As printed: "27/BC-BVPSM"; null for a draft.
    number_text: str | None
    year: int | None
    drafted_at: datetime
    drafted_by: str
    issued_at: datetime | None
    issued_by: str | None
    #: Detection of the incident's first alert + 72 hours.
    deadline: datetime
    late: bool
    delay_reason: str | None
    patients_count: int
    #: "evidence": counted from the log lines; "alerts": the alerts' counts (a lower bound).
    counts_basis: str
    docx_sha256: str
    pdf_sha256: str
    deliveries: list[DeliveryOut]
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    channel: str
    target: str
    n: int
    at: datetime
    result: str
    status: int | None
    error: str


class ReportOut(ReportSummaryOut):
    #: Every fact the documents state (patients by pseudonym only).
    facts: dict[str, Any]
    #: Every delivery attempt, oldest first.
    attempts: list[AttemptOut]


class ReportPageOut(BaseModel):
    items: list[ReportSummaryOut]
    total: int


class NotifiedIn(_In):
    recipient: Line
    at: datetime
    channel: Annotated[str, Field(max_length=200)] = ""


class DraftIn(_In):
    """What an analyst adds to the facts the incident gives."""

    measures_taken: Annotated[list[Line], Field(max_length=50)] = []
    #: Replaces the hospital's standing list when given.
    measures_planned: Annotated[list[Line] | None, Field(max_length=50)] = None
    notified: Annotated[list[NotifiedIn], Field(max_length=50)] = []


class ApproveIn(_In):
    #: Why it is approved; kept in the incident's history with the numbers.
    comment: Line
    #: Required past the 72-hour deadline (printed in both documents).
    delay_reason: Annotated[str | None, Field(max_length=2000)] = None


class ReceivedOut(BaseModel):
    id: str
    hospital_id: str
    kind: KindName
    number: int
    number_text: str
    year: int
    incident_id: str
    issued_at: datetime
    deadline: datetime
    late: bool
    delay_reason: str | None
    received_at: datetime
    #: The registered key that verified it (SHA-256 of the public key).
    key_id: str
    jws_sha256: str
    documents: list[DocumentName]
    patients_count: int


class ReceivedDetailOut(ReceivedOut):
    facts: dict[str, Any]


class ReceivedPageOut(BaseModel):
    items: list[ReceivedOut]
    #: Every report matching the filter (not only those after the cursor).
    total: int
    #: Pass as ``cursor`` for the next page (null on the last): a position that reports
    #: arriving meanwhile do not move.
    next_cursor: str | None = None


class AlreadyReceivedOut(BaseModel):
    error: str
    message: str
    request_id: str
    report_id: str
    #: The stored copy is byte for byte this one (a retry whose first answer was lost).
    identical: bool


def delivery_out(d: reports.DeliveryStatus) -> DeliveryOut:
    return DeliveryOut(channel=d.channel, target=d.target, state=d.state,
                       attempts=d.attempts, last_error=d.last_error,
                       next_attempt=d.next_attempt, delivered_at=d.delivered_at)


def report_summary(r: reports.ReportRecord) -> ReportSummaryOut:
    return ReportSummaryOut(
        id=r.id, hospital_id=r.hospital_id, incident_id=r.incident_id, kind=r.kind,
        state=r.state, number=r.number, number_text=r.number_text, year=r.year,
        drafted_at=r.drafted_at, drafted_by=r.drafted_by, issued_at=r.issued_at,
        issued_by=r.issued_by, deadline=r.deadline, late=r.late, delay_reason=r.delay_reason,
        patients_count=r.facts.patients_count, counts_basis=r.facts.counts_basis,
        docx_sha256=r.docx_sha256, pdf_sha256=r.pdf_sha256,
        deliveries=[delivery_out(d) for d in r.deliveries], delivered_at=r.delivered_at)


def report_out(r: reports.ReportRecord,
               attempts: list[tuple[reports.Delivery, list[reports.Attempt]]]) -> ReportOut:
    return ReportOut(
        **report_summary(r).model_dump(), facts=r.facts.model_dump(mode="json"),
        attempts=[AttemptOut(channel=d.channel, target=d.target, n=a.n, at=a.at,
                             result=str(a.result), status=a.status, error=a.error)
                  for d, tries in attempts for a in tries])


def received_out(r: reports.ReceivedReport) -> ReceivedOut:
    p = r.payload
    docs: list[DocumentName] = ["jws"]
    if r.docx is not None or r.has_docx:
        docs.append("docx")
    if r.pdf is not None or r.has_pdf:
        docs.append("pdf")
    return ReceivedOut(
        id=r.id, hospital_id=p.hospital_id, kind=p.kind, number=p.number,
        number_text=p.number_text, year=p.year, incident_id=p.incident_id,
        issued_at=p.issued_at, deadline=p.deadline, late=p.late, delay_reason=p.delay_reason,
        received_at=r.received_at, key_id=r.key_id, jws_sha256=r.jws_sha256, documents=docs,
        patients_count=p.facts.patients_count)


def received_detail(r: reports.ReceivedReport) -> ReceivedDetailOut:
    return ReceivedDetailOut(**received_out(r).model_dump(),
                             facts=r.payload.facts.model_dump(mode="json"))
