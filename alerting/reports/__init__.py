"""Reports to the Department of Health and the statutory breach notification.

Facts in (``facts_from_incident``), documents out (DOCX, PDF, a signed JSON copy),
numbered without gaps, on a 72-hour clock, delivered through a durable outbox. See
docs/reports.md.
"""

from alerting.reports.breach import breach_notification
from alerting.reports.deadline import Clock, ClockState, clock, deadline, delay_reason_for
from alerting.reports.docx_writer import render_docx
from alerting.reports.drafting import Documents, IssuedReport, draft, finalize, parcel_of
from alerting.reports.errors import (
    DeliveryError,
    FactsError,
    FontError,
    LateWithoutReasonError,
    NumberingError,
    RenderError,
    ReportError,
    SigningError,
    VerificationError,
)
from alerting.reports.facts import EvidenceRecord, Notification, facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import ReportNumbers, SQLiteReportNumbers, number_key
from alerting.reports.outbox import Attachment, Backoff, Outbox, Outcome, Parcel, State
from alerting.reports.payload import SignedReport, json_schema
from alerting.reports.pdf_writer import render_pdf
from alerting.reports.profile import Contact, HospitalProfile, Signer
from alerting.reports.pseudonym import HmacPseudonymizer
from alerting.reports.report import department_report
from alerting.reports.signing import (
    SigningKey,
    generate_key_pair,
    load_public_keys,
    load_signing_key,
    sign_report,
    verify_report,
    write_key_pair,
)
from alerting.reports.smtp import SmtpChannel, SmtpSettings
from alerting.reports.webhook import WebhookChannel, WebhookSettings

__all__ = [
    "Attachment", "Backoff", "Clock", "ClockState", "Contact", "DeliveryError", "Documents",
    "EvidenceRecord", "FactsError", "FontError", "HmacPseudonymizer", "HospitalProfile",
    "IssuedReport", "LateWithoutReasonError", "Notification", "NumberingError", "Outbox",
    "Outcome", "Parcel", "RenderError", "ReportError", "ReportFacts", "ReportNumbers",
    "SQLiteReportNumbers", "SignedReport", "Signer", "SigningError", "SigningKey",
    "SmtpChannel", "SmtpSettings", "State", "VerificationError", "WebhookChannel",
    "WebhookSettings", "breach_notification", "clock", "deadline", "delay_reason_for",
    "department_report", "draft", "facts_from_incident", "finalize", "generate_key_pair",
    "json_schema", "load_public_keys", "load_signing_key", "number_key", "parcel_of",
    "render_docx", "render_pdf", "sign_report", "verify_report", "write_key_pair",
]
