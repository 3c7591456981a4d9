"""The access audit log: who saw patient identifiers, when, why — hash-chained.

Every API response that shows patient identifiers (real or pseudonymous) appends one
record. Record ``n`` holds the SHA-256 of record ``n - 1`` (``prev``) and its own
``hash`` over every field including ``seq`` and ``prev``, so changing a record's content
breaks its hash, and removing or reordering records breaks the chain of the next one.
``verify_chain`` walks the records as stored and names the first bad one.

What the chain cannot show by itself is the loss of the newest records: a verifier that
kept an earlier head (``seq`` and ``hash``, printed by ``phiwatch audit verify``) checks
that it is still in the chain (``anchor``).

A record never holds patient identifiers: only route, object ids (alerts, incidents) and
counts. The audit log must not become a copy of what it protects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

GENESIS = "0" * 64
#: Fields covered by the hash, in the stored document.
FIELDS: tuple[str, ...] = (
    "seq", "at", "actor", "role", "hospital", "method", "route", "objects", "identifiers",
    "request_id", "reason", "status", "prev",
)
MAX_REASON_CHARS = 500
MAX_OBJECTS = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What the caller tells: who (token subject, role, hospital claim), what (method,
    route template, object ids, how many patient identifiers were shown), which request,
    the reason given, and the response status."""

    actor: str
    role: str
    hospital: str | None
    method: str
    route: str
    objects: tuple[str, ...]
    identifiers: int
    request_id: str
    reason: str | None = None
    status: int = 200


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    entry: AuditEntry
    prev: str
    hash: str = field(default="")

    def body(self) -> dict[str, Any]:
        """The hashed fields, as stored."""
        e = self.entry
        return {
            "seq": self.seq, "at": self.at.astimezone(UTC).isoformat(), "actor": e.actor,
            "role": e.role, "hospital": e.hospital, "method": e.method, "route": e.route,
            "objects": list(e.objects), "identifiers": e.identifiers,
            "request_id": e.request_id, "reason": e.reason, "status": e.status,
            "prev": self.prev,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditRecord:
        entry = AuditEntry(d["actor"], d["role"], d.get("hospital"), d["method"], d["route"],
                           tuple(d.get("objects") or ()), int(d.get("identifiers") or 0),
                           d["request_id"], d.get("reason"), int(d.get("status") or 0))
        return cls(int(d["seq"]), datetime.fromisoformat(d["at"]), entry, d["prev"],
                   d["hash"])


def body_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``body``'s hashed fields (sorted keys)."""
    canonical = orjson.dumps({k: body.get(k) for k in FIELDS}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def next_record(head: AuditRecord | None, entry: AuditEntry, at: datetime) -> AuditRecord:
    """The record that follows ``head`` (the first one when ``head`` is None)."""
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    reason = entry.reason
    if reason is not None:
        reason = " ".join(reason.split())[:MAX_REASON_CHARS] or None
    entry = AuditEntry(entry.actor, entry.role, entry.hospital, entry.method, entry.route,
                       tuple(entry.objects[:MAX_OBJECTS]), entry.identifiers,
                       entry.request_id, reason, entry.status)
    record = AuditRecord(1 if head is None else head.seq + 1, at.astimezone(UTC), entry,
                         GENESIS if head is None else head.hash)
    return AuditRecord(record.seq, record.at, entry, record.prev, body_hash(record.body()))


@dataclass(frozen=True, slots=True)
class AuditVerdict:
    """What ``verify_chain`` found: ``ok``, how many records, the head, the first problem."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None


def verify_chain(
    stored: Iterable[tuple[int, Any]], anchor: tuple[int, str] | None = None
) -> AuditVerdict:
    """Check records as stored: ``(position, document)`` in position order, where the
    position is the store's own key (SQLite row, Elasticsearch ``_id``)."""
    head_seq, head_hash, count = 0, GENESIS, 0
    anchor_seen = anchor is None

    def bad(seq: int, why: str) -> AuditVerdict:
        return AuditVerdict(False, count, head_seq, head_hash, seq, why)

    for position, doc in stored:
        expected = head_seq + 1
        if position != expected:
            if position > expected:
                return bad(expected, f"record {expected} is missing or moved (the next "
                                     f"stored record is {position}): removed or reordered")
            return bad(position, f"record {position} is stored twice or out of order")
        if not isinstance(doc, Mapping) or not isinstance(doc.get("hash"), str):
            return bad(position, f"record {position} is unreadable")
        if doc.get("seq") != position:
            return bad(position, f"record {position} holds the content of record "
                                 f"{doc.get('seq')!r}: reordered")
        if doc.get("prev") != head_hash:
            return bad(position, f"record {position} does not follow record {head_seq} "
                                 f"(its prev hash differs): a record before it was removed, "
                                 f"edited or reordered")
        if body_hash(doc) != doc["hash"]:
            return bad(position, f"record {position}'s content does not match its hash: "
                                 f"edited")
        head_seq, head_hash, count = position, doc["hash"], count + 1
        if anchor is not None and anchor[0] == position:
            if anchor[1] != head_hash:
                return bad(position, f"record {position} is not the one anchored "
                                     f"(hash {anchor[1][:16]}…): the chain was rewritten")
            anchor_seen = True
    if not anchor_seen and anchor is not None:
        return AuditVerdict(False, count, head_seq, head_hash, anchor[0],
                            f"the chain ends at record {head_seq}, before the anchored "
                            f"record {anchor[0]}: newer records were removed")
    return AuditVerdict(True, count, head_seq, head_hash)


class AuditLog(Protocol):
    """The append-only audit log, kept by both stores."""

    def append_audit(self, entry: AuditEntry, at: datetime | None = None) -> AuditRecord:
        """Append after the current head, atomically against other writers."""
        ...

    def audit_records(self, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        """Records with ``seq`` above ``after_seq``, in order."""
        ...

    def audit_stored(self) -> Iterable[tuple[int, Any]]:
        """Every record as stored, ``(position, document)`` in position order, for
        ``verify_chain`` (documents that no longer parse are passed on as they are)."""
        ...
