"""The Department's inbox: what ``POST /inbox/reports`` does, and what the Department reads.

A hospital's phiwatch (its webhook channel) or any sender posts a signed report; it is
accepted only when the JWS verifies against a key the Department registered for the
hospital it names (``reports.department.hospital_keys``), and stored once: the same report
again (or the same idempotency key) is ``AlreadyReceived``, whose ``identical`` tells a
lost answer's retry (the same bytes) from a second, different document under a number
already received. When ``inbox_token`` is configured the sender must present it too.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from alerting.reports.errors import ForgeryError, ReportNotFound, ReportsNotConfigured
from alerting.reports.inbox import Keyring, accept, parse_submission
from alerting.reports.records import InboxPosition, ReceivedReport, inbox_position
from phiwatch.report_parts import ReportParts


def inbox_keyring(parts: ReportParts | None) -> tuple[ReportParts, Keyring]:
    if parts is None or parts.keyring is None:
        raise ReportsNotConfigured("reports.department",
                                   "this phiwatch has no report inbox (it is not the "
                                   "Department's instance)")
    return parts, parts.keyring


def receive_report(parts: ReportParts | None, body: bytes, content_type: str, *,
                   now: datetime, idempotency_key: str | None = None,
                   bearer: str | None = None) -> ReceivedReport:
    """Verify and store one posted report; ``AlreadyReceived`` for a replay."""
    parts, keyring = inbox_keyring(parts)
    if parts.inbox_token is not None and not (
            bearer is not None and hmac.compare_digest(bearer.encode(),
                                                       parts.inbox_token.encode())):
        raise ForgeryError("inbox", "a valid bearer token is required (Authorization: Bearer)")
    submission = parse_submission(body, content_type)
    received = accept(submission, keyring, now=now, idempotency_key=idempotency_key,
                      algorithms=parts.settings.department.algorithms
                      if parts.settings.department is not None else ("ES256", "RS256"))
    return parts.records.add_received(received)


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox, newest first; ``next_after`` is where the next page starts
    (None on the last), a position that reports arriving meanwhile do not move."""

    items: list[ReceivedReport]
    total: int
    next_after: InboxPosition | None


def received_page(parts: ReportParts | None, hospital_id: str | None, limit: int,
                  offset: int = 0, after: InboxPosition | None = None) -> InboxPage:
    parts, _ = inbox_keyring(parts)
    found = parts.records.query_received(hospital_id, limit + 1, offset, after)
    items = found[:limit]
    more = len(found) > limit
    return InboxPage(items, parts.records.count_received(hospital_id),
                     inbox_position(items[-1]) if more and items else None)


def received_report(parts: ReportParts | None, received_id: str) -> ReceivedReport:
    parts, _ = inbox_keyring(parts)
    found = parts.records.get_received(received_id)
    if found is None:
        raise ReportNotFound(f"received report {received_id}", "no such report")
    return found
