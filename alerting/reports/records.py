"""Reports as the hospital keeps them: a draft, then the issued documents and their delivery.

A confirmed leak gets one record per document kind (the report to the Department, the
breach notification), whose id is the incident's id and the kind's symbol, so drafting
again replaces the draft and never makes a second report. The record moves
``draft`` → ``issued`` (numbered, rendered, signed, queued for delivery) → ``delivered``
(every delivery landed) or ``failed`` (a delivery was refused for good or given up: an
operator must look). The delivery attempts themselves live in the outbox; the record
keeps a summary per channel and target so a list never has to open the outbox.

Stores write records by compare-and-set on ``version``, as incidents: two analysts
approving at once, or the delivery loop updating a summary while an analyst redrafts,
never overwrite each other silently. ``ReceivedReport`` is the Department's side: a
hospital's signed report as its inbox accepted it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from alerting.reports.deadline import deadline
from alerting.reports.errors import ReportError
from alerting.reports.model import ReportFacts
from alerting.reports.payload import Kind, SignedReport, sha256
from alerting.store import micros

ReportState = Literal["draft", "issued", "delivered", "failed"]
REPORT_STATES: tuple[ReportState, ...] = ("draft", "issued", "delivered", "failed")
KINDS: tuple[Kind, ...] = ("department_report", "breach_notification")
SYMBOL_OF: dict[Kind, str] = {"department_report": "BC", "breach_notification": "TB"}


def record_id(incident_id: str, kind: Kind) -> str:
    """One record per incident and document kind: ``<incident>-bc`` or ``<incident>-tb``."""
    return f"{incident_id}-{SYMBOL_OF[kind].lower()}"


class RecordConflict(ReportError):
    """The record changed since it was read (``expected_version`` is stale)."""


class AlreadyReceived(ReportError):
    """The inbox holds this report (or this idempotency key) already."""

    def __init__(self, existing: ReceivedReport, why: str) -> None:
        super().__init__(f"report {existing.id}", why)
        self.existing = existing


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """Where one delivery (channel and target) stands; the outbox keeps every attempt."""

    channel: str
    target: str
    state: str
    attempts: int = 0
    last_error: str = ""
    next_attempt: datetime | None = None
    delivered_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "target": self.target, "state": self.state,
                "attempts": self.attempts, "last_error": self.last_error,
                "next_attempt": _iso(self.next_attempt),
                "delivered_at": _iso(self.delivered_at)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeliveryStatus:
        return cls(d["channel"], d["target"], d["state"], int(d.get("attempts", 0)),
                   d.get("last_error", ""), _time(d.get("next_attempt")),
                   _time(d.get("delivered_at")))


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One document of one incident, from draft to delivery.

    ``docx`` and ``pdf`` are the draft's (marked DỰ THẢO) until issued, then the issued
    documents whose hashes the JWS carries. Lists (``query_reports``) leave ``docx``,
    ``pdf`` and ``jws`` empty; ``get_report`` fills them.
    """

    id: str
    hospital_id: str
    incident_id: str
    kind: Kind
    state: ReportState
    facts: ReportFacts
    drafted_at: datetime
    drafted_by: str
    docx: bytes = b""
    pdf: bytes = b""
    jws: bytes = b""
    docx_sha256: str = ""
    pdf_sha256: str = ""
    version: int = 0
    number: int | None = None
    number_text: str | None = None
    year: int | None = None
    issued_at: datetime | None = None
    issued_by: str | None = None
    delay_reason: str | None = None
    deliveries: tuple[DeliveryStatus, ...] = field(default_factory=tuple)
    delivered_at: datetime | None = None

    @property
    def deadline(self) -> datetime:
        """Detection of the incident's first alert + 72 hours."""
        return deadline(self.facts.detected_at)

    @property
    def late(self) -> bool:
        return self.issued_at is not None and self.issued_at > self.deadline

    @property
    def symbol(self) -> str:
        return SYMBOL_OF[self.kind]

    def with_documents(self, docx: bytes, pdf: bytes, jws: bytes = b"") -> ReportRecord:
        return replace(self, docx=docx, pdf=pdf, jws=jws, docx_sha256=sha256(docx),
                       pdf_sha256=sha256(pdf))

    def without_documents(self) -> ReportRecord:
        return replace(self, docx=b"", pdf=b"", jws=b"")

    def meta(self) -> dict[str, Any]:
        """Everything but the documents, JSON-ready (``from_meta`` reads it back)."""
        return {
            "id": self.id, "hospital_id": self.hospital_id, "incident_id": self.incident_id,
            "kind": self.kind, "state": self.state,
            "facts": self.facts.model_dump(mode="json"),
            "drafted_at": self.drafted_at.isoformat(), "drafted_by": self.drafted_by,
            "docx_sha256": self.docx_sha256, "pdf_sha256": self.pdf_sha256,
            "version": self.version, "number": self.number, "number_text": self.number_text,
            "year": self.year, "issued_at": _iso(self.issued_at), "issued_by": self.issued_by,
            "delay_reason": self.delay_reason,
            "deliveries": [d.to_dict() for d in self.deliveries],
            "delivered_at": _iso(self.delivered_at),
        }

    @classmethod
    def from_meta(cls, d: Mapping[str, Any], *, docx: bytes = b"", pdf: bytes = b"",
                  jws: bytes = b"") -> ReportRecord:
        return cls(
            id=d["id"], hospital_id=d["hospital_id"], incident_id=d["incident_id"],
            kind=d["kind"], state=d["state"], facts=ReportFacts.model_validate(d["facts"]),
            drafted_at=datetime.fromisoformat(d["drafted_at"]), drafted_by=d["drafted_by"],
            docx=docx, pdf=pdf, jws=jws, docx_sha256=d.get("docx_sha256", ""),
            pdf_sha256=d.get("pdf_sha256", ""), version=int(d.get("version", 0)),
            number=d.get("number"), number_text=d.get("number_text"), year=d.get("year"),
            issued_at=_time(d.get("issued_at")), issued_by=d.get("issued_by"),
            delay_reason=d.get("delay_reason"),
            deliveries=tuple(DeliveryStatus.from_dict(x) for x in d.get("deliveries", [])),
            delivered_at=_time(d.get("delivered_at")),
        )


@dataclass(frozen=True, slots=True)
class ReceivedReport:
    """A hospital's signed report as the Department's inbox accepted it.

    ``payload`` is what the verified JWS says; ``docx`` and ``pdf`` are the documents
    that came with it (their hashes checked against the payload), ``None`` when the
    sender posted the JWS alone. Lists leave ``jws``, ``docx`` and ``pdf`` out.
    """

    id: str
    payload: SignedReport
    jws: bytes
    key_id: str
    received_at: datetime
    idempotency_key: str | None = None
    docx: bytes | None = None
    pdf: bytes | None = None
    jws_sha256: str = ""
    has_docx: bool = False
    has_pdf: bool = False

    @staticmethod
    def id_of(payload: SignedReport) -> str:
        """``<hospital>-<year>-<number>-<bc|tb>``: the document number is unique per
        hospital and year, so this names one report whoever sends it, however often."""
        symbol = SYMBOL_OF[payload.kind].lower()
        return f"{payload.hospital_id}-{payload.year}-{payload.number}-{symbol}"

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "payload": self.payload.model_dump(mode="json"),
                "key_id": self.key_id, "received_at": self.received_at.isoformat(),
                "idempotency_key": self.idempotency_key, "jws_sha256": self.jws_sha256,
                "has_docx": self.docx is not None or self.has_docx,
                "has_pdf": self.pdf is not None or self.has_pdf}

    @classmethod
    def from_meta(cls, d: Mapping[str, Any], *, jws: bytes = b"", docx: bytes | None = None,
                  pdf: bytes | None = None) -> ReceivedReport:
        return cls(id=d["id"], payload=SignedReport.model_validate(d["payload"]), jws=jws,
                   key_id=d["key_id"], received_at=datetime.fromisoformat(d["received_at"]),
                   idempotency_key=d.get("idempotency_key"), docx=docx, pdf=pdf,
                   jws_sha256=d.get("jws_sha256", ""), has_docx=bool(d.get("has_docx")),
                   has_pdf=bool(d.get("has_pdf")))


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Records of one hospital (or all), optionally of one state or kind, newest first;
    ``drafts`` False leaves drafts out (what may leave the hospital)."""

    hospital_id: str | None = None
    state: ReportState | None = None
    kind: Kind | None = None
    incident_id: str | None = None
    drafts: bool = True
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in REPORT_STATES:
            raise ValueError(f"state must be one of {', '.join(REPORT_STATES)}")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not 0 < self.limit <= 1000 or not 0 <= self.offset <= 10_000 - self.limit:
            raise ValueError("limit must be 1-1000 and offset + limit at most 10000")


@runtime_checkable
class ReportStore(Protocol):
    """Drafts and issued reports (the hospital's side)."""

    def get_report(self, report_id: str) -> ReportRecord | None: ...

    def save_report(self, record: ReportRecord, expected_version: int | None
                    ) -> ReportRecord:
        """Compare-and-set: ``expected_version`` None creates; ``RecordConflict`` when the
        stored version differs (or the id exists on create). Returns the stored record."""
        ...

    def query_reports(self, q: ReportQuery) -> list[ReportRecord]:
        """Newest draft first (documents left out)."""
        ...

    def count_reports(self, q: ReportQuery) -> int: ...


#: Where a received report sorts in the inbox: (microseconds received, id), descending.
InboxPosition = tuple[int, str]


def inbox_position(report: ReceivedReport) -> InboxPosition:
    return (micros(report.received_at), report.id)


@runtime_checkable
class InboxStore(Protocol):
    """Reports received from hospitals (the Department's side)."""

    def add_received(self, report: ReceivedReport) -> ReceivedReport:
        """Store it once; ``AlreadyReceived`` (holding the stored one) for the same report
        id or idempotency key."""
        ...

    def get_received(self, received_id: str) -> ReceivedReport | None: ...

    def query_received(self, hospital_id: str | None, limit: int = 100,
                       offset: int = 0, after: InboxPosition | None = None
                       ) -> list[ReceivedReport]:
        """Newest received first (documents left out); with ``after``, only those that
        sort after that position (``inbox_position`` of the last one already seen)."""
        ...

    def count_received(self, hospital_id: str | None) -> int: ...


def stored_as(record: ReportRecord, version: int) -> ReportRecord:
    return replace(record, version=version)


def newest_first(records: Sequence[ReportRecord]) -> list[ReportRecord]:
    return sorted(records, key=lambda r: (r.drafted_at, r.id), reverse=True)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
