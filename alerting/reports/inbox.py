"""The Department's inbox: a hospital's signed report in, a verified ``ReceivedReport`` out.

The signed JWS is the proof: it must verify against a public key the Department
registered for the hospital the payload names. A hospital may have several registered
keys (rotation: the new key is registered before the hospital switches to it, the old
one stays until every report it signed has arrived); the JWS header's ``kid`` (SHA-256 of
the public key) says which. Nothing of the token is believed before that key verified
it; ``peek`` only chooses the key.

A sender may post the JWS alone (``application/jose``) or the JWS with the DOCX and the
PDF (``application/vnd.phiwatch.report+json``: ``{"jws": …, "docx": base64, "pdf":
base64}``), whose hashes must be the ones the hospital signed. ``ForgeryError`` (the
signature does not prove the hospital) and ``VerificationError`` (a malformed body, a
payload off the schema, a document that does not match) say which failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from alerting.reports.errors import ForgeryError, VerificationError
from alerting.reports.payload import sha256
from alerting.reports.records import ReceivedReport
from alerting.reports.signing import key_id, peek, verify_report

JOSE_TYPE = "application/jose"
ENVELOPE_TYPE = "application/vnd.phiwatch.report+json"
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Keyring:
    """Public keys (PEM) registered per hospital, found by key id."""

    keys: Mapping[str, Mapping[str, bytes]]

    @classmethod
    def of(cls, pems: Mapping[str, Iterable[bytes]]) -> Keyring:
        return cls({h: {key_id(p): p for p in ps} for h, ps in pems.items()})

    @classmethod
    def from_files(cls, files: Mapping[str, Iterable[Path]]) -> Keyring:
        """``{hospital: [PEM files]}``; ``VerificationError`` naming an unusable file."""
        pems: dict[str, list[bytes]] = {}
        for hospital, paths in files.items():
            for path in paths:
                try:
                    pem = path.read_bytes()
                    key_id(pem)
                except (OSError, ValueError) as e:
                    raise VerificationError(f"public key of {hospital} ({path})",
                                            f"unusable: {e}") from e
                pems.setdefault(hospital, []).append(pem)
        return cls.of(pems)

    def key(self, hospital_id: str, kid: str | None) -> bytes:
        found = self.keys.get(hospital_id)
        if not found:
            raise ForgeryError(f"hospital {hospital_id!r}", "no public key is registered for it")
        if kid is None:
            if len(found) == 1:
                return next(iter(found.values()))
            raise ForgeryError(f"report of {hospital_id}", "the JWS header names no key (kid) "
                                                           "and the hospital has several")
        pem = found.get(kid)
        if pem is None:
            raise ForgeryError(f"report of {hospital_id}",
                               f"key {kid[:16]}… is not registered for this hospital")
        return pem


@dataclass(frozen=True, slots=True)
class Submission:
    jws: bytes
    docx: bytes | None = None
    pdf: bytes | None = None


def _document(envelope: Mapping[str, Any], name: str) -> bytes | None:
    value = envelope.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise VerificationError(f"body.{name}", "must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationError(f"body.{name}", "is not base64") from e


def parse_submission(body: bytes, content_type: str) -> Submission:
    """The JWS (and the documents) of a posted body."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in (JOSE_TYPE, "text/plain", ""):
        return Submission(body.strip())
    if kind not in (ENVELOPE_TYPE, "application/json"):
        raise VerificationError("content type", f"{kind!r} is neither {JOSE_TYPE} nor "
                                                f"{ENVELOPE_TYPE}")
    if len(body) > MAX_ENVELOPE_BYTES:
        raise VerificationError("body", "larger than 16 MiB")
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise VerificationError("body", "not a JSON document") from e
    if not isinstance(envelope, dict) or not isinstance(envelope.get("jws"), str):
        raise VerificationError("body.jws", "the envelope needs the compact JWS as text")
    unknown = sorted(set(envelope) - {"jws", "docx", "pdf"})
    if unknown:
        raise VerificationError(f"body.{unknown[0][:40]}", "not a field of the envelope")
    return Submission(envelope["jws"].encode("utf-8"), _document(envelope, "docx"),
                      _document(envelope, "pdf"))


def envelope(jws: bytes, docx: bytes | None, pdf: bytes | None) -> bytes:
    """The body a sender posts with the documents (``ENVELOPE_TYPE``)."""
    doc: dict[str, str] = {"jws": jws.decode("ascii")}
    if docx is not None:
        doc["docx"] = base64.b64encode(docx).decode("ascii")
    if pdf is not None:
        doc["pdf"] = base64.b64encode(pdf).decode("ascii")
    return orjson.dumps(doc)


def accept(submission: Submission, keyring: Keyring, *, now: datetime,
           idempotency_key: str | None = None,
           algorithms: Iterable[str] = ("ES256", "RS256")) -> ReceivedReport:
    """The verified report, ready to store; ``ForgeryError``/``VerificationError`` if not."""
    header, claims = peek(submission.jws)
    hospital = claims.get("hospital_id")
    if not isinstance(hospital, str) or not hospital:
        raise VerificationError("signed report", "the payload names no hospital")
    kid = header.get("kid")
    pem = keyring.key(hospital, kid if isinstance(kid, str) else None)
    documents = {name: data for name, data in (("docx", submission.docx),
                                               ("pdf", submission.pdf)) if data is not None}
    payload = verify_report(submission.jws, {hospital: pem}, documents=documents,
                            algorithms=algorithms)
    jws = submission.jws.strip()
    return ReceivedReport(
        id=ReceivedReport.id_of(payload), payload=payload, jws=jws, key_id=key_id(pem),
        received_at=now, idempotency_key=idempotency_key, docx=submission.docx,
        pdf=submission.pdf, jws_sha256=sha256(jws))


def same_content(a: ReceivedReport, b: ReceivedReport) -> bool:
    """Whether two receipts carry the same signed bytes (a retry, not a second report)."""
    return bool(a.jws_sha256) and a.jws_sha256 == (b.jws_sha256 or hashlib.sha256(
        b.jws).hexdigest())
