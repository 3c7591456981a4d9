"""From facts to an issued report: draft freely, finalize once (number, documents, JWS).

A draft has no number ("Số:   /BC-…", marked DỰ THẢO) so analysts can redraft as often as
they like without burning numbers. ``finalize`` checks the 72-hour clock first (a late
notification without a reason for the delay is refused before anything is drawn), then
draws the number for this incident and document kind (the same one on a retry), renders
the DOCX and the PDF, and signs the JSON copy carrying their hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerting.reports import breach, report
from alerting.reports.deadline import deadline, delay_reason_for
from alerting.reports.docx_writer import render_docx
from alerting.reports.errors import FactsError
from alerting.reports.layout import AdminDocument
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import ReportNumbers, number_key
from alerting.reports.outbox import Attachment, Parcel
from alerting.reports.payload import DocumentHashes, Kind, SignedReport, sha256
from alerting.reports.pdf_writer import render_pdf
from alerting.reports.profile import HospitalProfile
from alerting.reports.signing import SigningKey, sign_report

SYMBOLS: dict[Kind, str] = {"department_report": report.SYMBOL,
                            "breach_notification": breach.SYMBOL}


@dataclass(frozen=True, slots=True)
class Documents:
    docx: bytes
    pdf: bytes


@dataclass(frozen=True, slots=True)
class IssuedReport:
    """A finalized report: what is delivered (DOCX, PDF, JWS) and what the JWS says."""

    payload: SignedReport
    docx: bytes
    pdf: bytes
    jws: bytes

    @property
    def report_id(self) -> str:
        """Stable id of this document: hospital, year, number."""
        p = self.payload
        return f"{p.hospital_id}:{p.year}:{p.number_text}"

    @property
    def file_stem(self) -> str:
        """An ASCII file name stem: "bao-cao-27-BC-BVPSM-2026"."""
        word = "bao-cao" if self.payload.kind == "department_report" else "thong-bao"
        return f"{word}-{self.payload.number_text.replace('/', '-')}-{self.payload.year}"


def _check(facts: ReportFacts, hospital: HospitalProfile, issued_at: datetime) -> None:
    if facts.hospital_id != hospital.id:
        raise FactsError(f"facts of {facts.hospital_id}",
                         f"cannot be issued by hospital {hospital.id}")
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise FactsError("issued_at", "needs a timezone-aware time")


def document(facts: ReportFacts, hospital: HospitalProfile, *, kind: Kind,
             number: int | None, issued_at: datetime,
             delay_reason: str | None = None) -> AdminDocument:
    if kind == "department_report":
        return report.department_report(facts, hospital, number=number, issued_at=issued_at,
                                        delay_reason=delay_reason)
    return breach.breach_notification(facts, hospital, number=number, issued_at=issued_at,
                                      delay_reason=delay_reason)


def draft(facts: ReportFacts, hospital: HospitalProfile, *, kind: Kind = "department_report",
          issued_at: datetime, delay_reason: str | None = None) -> Documents:
    """DOCX and PDF marked DỰ THẢO, with no number: nothing is drawn or signed."""
    _check(facts, hospital, issued_at)
    doc = document(facts, hospital, kind=kind, number=None, issued_at=issued_at,
                   delay_reason=delay_reason)
    return Documents(render_docx(doc, created=issued_at), render_pdf(doc))


def finalize(
    facts: ReportFacts,
    hospital: HospitalProfile,
    *,
    kind: Kind = "department_report",
    numbers: ReportNumbers,
    key: SigningKey,
    issued_at: datetime,
    delay_reason: str | None = None,
) -> IssuedReport:
    """The issued report: numbered, rendered, signed.

    ``issued_at`` is when it is sent; past the deadline ``delay_reason`` is required
    (``LateWithoutReasonError`` otherwise, before any number is drawn).
    """
    _check(facts, hospital, issued_at)
    reason = delay_reason_for(facts.detected_at, issued_at, delay_reason)
    if key.hospital_id != hospital.id:
        raise FactsError(f"signing key of {key.hospital_id}",
                         f"cannot sign for hospital {hospital.id}")
    year = issued_at.astimezone(hospital.zone).year
    symbol = SYMBOLS[kind]
    number = numbers.next(hospital.id, year, number_key(facts.incident_id, symbol))
    doc = document(facts, hospital, kind=kind, number=number, issued_at=issued_at,
                   delay_reason=reason)
    docx, pdf = render_docx(doc, created=issued_at), render_pdf(doc)
    due = deadline(facts.detected_at)
    payload = SignedReport(
        kind=kind, hospital_id=hospital.id, incident_id=facts.incident_id, number=number,
        number_text=f"{number}/{symbol}-{hospital.code}", year=year, issued_at=issued_at,
        deadline=due, late=issued_at > due, delay_reason=reason,
        documents=DocumentHashes(docx_sha256=sha256(docx), pdf_sha256=sha256(pdf)),
        facts=facts)
    return IssuedReport(payload, docx, pdf, sign_report(payload, key))


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def parcel_of(issued: IssuedReport, hospital: HospitalProfile) -> Parcel:
    """What the outbox delivers: a Vietnamese message, DOCX, PDF and the JWS attached."""
    p = issued.payload
    what = ("Báo cáo sự cố lộ lọt dữ liệu người bệnh" if p.kind == "department_report"
            else "Thông báo vi phạm quy định về bảo vệ dữ liệu cá nhân")
    subject = f"{what} – số {p.number_text} – {hospital.name}"
    body = (f"Kính gửi: {hospital.recipient if p.kind == 'department_report' else 'Bộ Công an'}"
            f"\n\n{hospital.name} gửi {what.lower()} số {p.number_text} "
            f"({p.issued_at.astimezone(hospital.zone):%d/%m/%Y %H:%M}).\n"
            "Đính kèm: văn bản (DOCX, PDF) và bản JSON có chữ ký số của bệnh viện (JWS; "
            "trong đó có mã băm SHA-256 của hai tệp văn bản).\n\n"
            f"Đầu mối liên hệ: {p.facts.contact.name}, {p.facts.contact.phone}, "
            f"{p.facts.contact.email}.\n")
    stem = issued.file_stem
    return Parcel(
        report_id=issued.report_id, subject=subject, body=body, jws=issued.jws,
        attachments=(Attachment(f"{stem}.docx", DOCX_TYPE, issued.docx),
                     Attachment(f"{stem}.pdf", "application/pdf", issued.pdf),
                     Attachment(f"{stem}.jws", "application/jose", issued.jws)))
