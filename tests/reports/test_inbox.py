"""The inbox's verification: the registered key by ``kid``, forgeries and tampering refused."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from alerting.reports import sample
from alerting.reports.drafting import IssuedReport, finalize
from alerting.reports.errors import ForgeryError, VerificationError
from alerting.reports.inbox import (
    ENVELOPE_TYPE,
    JOSE_TYPE,
    Keyring,
    Submission,
    accept,
    envelope,
    parse_submission,
)
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.signing import SigningKey, load_signing_key, write_key_pair

NOW = sample.local(2026, 12, 5, 12)


def issue(facts: ReportFacts, key: SigningKey, folder: Path) -> IssuedReport:
    return finalize(facts, sample.sample_hospital(), numbers=SQLiteReportNumbers(
        folder / "n.db"), key=key, issued_at=sample.local(2026, 12, 5, 11))


def keyring(*pems: tuple[str, Path]) -> Keyring:
    found: dict[str, list[bytes]] = {}
    for hospital, path in pems:
        found.setdefault(hospital, []).append(path.read_bytes())
    return Keyring.of(found)


def test_a_report_with_its_documents_is_accepted(facts: ReportFacts, key: SigningKey,
                                                 keydir: Path, tmp_path: Path) -> None:
    issued = issue(facts, key, tmp_path)
    body = envelope(issued.jws, issued.docx, issued.pdf)
    got = accept(parse_submission(body, ENVELOPE_TYPE),
                 keyring(("bv-mau", keydir / "bv-mau.pub.pem")), now=NOW,
                 idempotency_key="abc")
    assert got.id == "bv-mau-2026-1-bc" and got.payload == issued.payload
    assert got.docx == issued.docx and got.pdf == issued.pdf and got.key_id == key.key_id
    alone = accept(parse_submission(issued.jws, JOSE_TYPE),
                   keyring(("bv-mau", keydir / "bv-mau.pub.pem")), now=NOW)
    assert alone.docx is None and alone.jws_sha256 == got.jws_sha256


def test_a_tampered_copy_is_a_forgery(facts: ReportFacts, key: SigningKey, keydir: Path,
                                      tmp_path: Path) -> None:
    issued = issue(facts, key, tmp_path)
    head, payload, sig = issued.jws.split(b".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    claims["facts"]["patients_count"] = 3                  # "only three patients"
    forged = base64.urlsafe_b64encode(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS)
                                      ).rstrip(b"=")
    with pytest.raises(ForgeryError, match="bad signature"):
        accept(Submission(b".".join([head, forged, sig])),
               keyring(("bv-mau", keydir / "bv-mau.pub.pem")), now=NOW)


def test_a_report_signed_by_another_hospital_is_refused(facts: ReportFacts, keydir: Path,
                                                        tmp_path: Path) -> None:
    """bv-khac signs a report that says it comes from bv-mau, with bv-khac's own key."""
    other = load_signing_key(keydir / "bv-khac.key.pem", "bv-khac")
    forged = issue(facts, SigningKey("bv-mau", other.algorithm, other.private_pem), tmp_path)
    ring = keyring(("bv-mau", keydir / "bv-mau.pub.pem"), ("bv-khac", keydir / "bv-khac.pub.pem"))
    with pytest.raises(ForgeryError, match="not registered"):
        accept(Submission(forged.jws), ring, now=NOW)
    with pytest.raises(ForgeryError, match="no public key"):
        accept(Submission(forged.jws), keyring(("bv-khac", keydir / "bv-khac.pub.pem")),
               now=NOW)


def test_rotation_several_keys_told_apart_by_kid(facts: ReportFacts, key: SigningKey,
                                                 keydir: Path, tmp_path: Path) -> None:
    _, new_pub = write_key_pair(tmp_path / "new", "bv-mau")
    new_key = load_signing_key(tmp_path / "new" / "bv-mau.key.pem", "bv-mau")
    ring = keyring(("bv-mau", keydir / "bv-mau.pub.pem"), ("bv-mau", new_pub))
    old = accept(Submission(issue(facts, key, tmp_path).jws), ring, now=NOW)
    fresh = accept(Submission(issue(facts.model_copy(update={"incident_id": "i2"}), new_key,
                                    tmp_path).jws), ring, now=NOW)
    assert old.key_id == key.key_id and fresh.key_id == new_key.key_id != key.key_id
    retired = keyring(("bv-mau", new_pub))
    with pytest.raises(ForgeryError, match="not registered"):
        accept(Submission(issue(facts, key, tmp_path).jws), retired, now=NOW)


def test_documents_must_be_the_signed_ones(facts: ReportFacts, key: SigningKey,
                                           keydir: Path, tmp_path: Path) -> None:
    issued = issue(facts, key, tmp_path)
    ring = keyring(("bv-mau", keydir / "bv-mau.pub.pem"))
    body = envelope(issued.jws, issued.docx, issued.pdf + b"%% appended")
    with pytest.raises(VerificationError, match=r"PDF .* does not match") as e:
        accept(parse_submission(body, ENVELOPE_TYPE), ring, now=NOW)
    assert not isinstance(e.value, ForgeryError)


@pytest.mark.parametrize(("body", "kind", "why"), [
    (b"not json", ENVELOPE_TYPE, "not a JSON document"),
    (b'{"jws": 1}', ENVELOPE_TYPE, "compact JWS as text"),
    (b'{"jws": "a.b.c", "extra": 1}', ENVELOPE_TYPE, "not a field"),
    (b'{"jws": "a.b.c", "pdf": "%%%"}', ENVELOPE_TYPE, "not base64"),
    (b"a.b.c", "image/png", "neither"),
])
def test_malformed_bodies_say_what_is_wrong(body: bytes, kind: str, why: str) -> None:
    with pytest.raises(VerificationError, match=why):
        parse_submission(body, kind)


def test_garbage_is_not_a_forgery_but_invalid(keydir: Path) -> None:
    ring = keyring(("bv-mau", keydir / "bv-mau.pub.pem"))
    with pytest.raises(VerificationError) as e:
        accept(Submission(b"only-one-part"), ring, now=NOW)
    assert not isinstance(e.value, ForgeryError)
