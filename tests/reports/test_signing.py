"""The signed JSON copy: accepted when genuine, refused when anything is off."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from jose import jws

from alerting.reports import sample
from alerting.reports.drafting import IssuedReport, finalize
from alerting.reports.errors import SigningError, VerificationError
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.payload import SCHEMA_FILE, json_schema, published_schema
from alerting.reports.profile import HospitalProfile
from alerting.reports.signing import (
    SigningKey,
    load_public_keys,
    load_signing_key,
    sign_report,
    verify_report,
)

ISSUED = sample.local(2026, 12, 6, 9)


@pytest.fixture
def issued(facts: ReportFacts, hospital: HospitalProfile, key: SigningKey,
           tmp_path: Path) -> IssuedReport:
    return finalize(facts, hospital, numbers=SQLiteReportNumbers(tmp_path / "n.db"), key=key,
                    issued_at=ISSUED)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: bytes) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = token.decode().split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(h))),
            json.loads(base64.urlsafe_b64decode(pad(p))), s)


def test_schema_file_matches_the_models() -> None:
    assert published_schema() == json_schema(), (
        f"regenerate {SCHEMA_FILE}: python -m alerting.reports.payload")


def test_a_genuine_report_is_accepted(issued: IssuedReport, keydir: Path) -> None:
    report = verify_report(issued.jws, load_public_keys(keydir),
                           documents={"docx": issued.docx, "pdf": issued.pdf})
    assert report.number_text == "1/BC-BVPSM" and report.hospital_id == "bv-mau"
    assert report.facts.patients_count == 330
    assert report.documents.pdf_sha256 == hashlib.sha256(issued.pdf).hexdigest()
    header, _, _ = _parts(issued.jws)
    assert header["alg"] == "ES256" and header["typ"] == "phiwatch-report+jws"


def test_rs256_hospital_key_works(facts: ReportFacts, hospital: HospitalProfile, keydir: Path,
                                  tmp_path: Path) -> None:
    other = hospital.model_copy(update={"id": "bv-khac"})
    f = facts.model_copy(update={"hospital_id": "bv-khac"})
    key = load_signing_key(keydir / "bv-khac.key.pem", "bv-khac")
    r = finalize(f, other, numbers=SQLiteReportNumbers(tmp_path / "n.db"), key=key,
                 issued_at=ISSUED)
    assert _parts(r.jws)[0]["alg"] == "RS256"
    assert verify_report(r.jws, load_public_keys(keydir)).hospital_id == "bv-khac"
    with pytest.raises(VerificationError, match="not allowed"):
        verify_report(r.jws, load_public_keys(keydir), algorithms=["ES256"])


def test_tampered_payload_is_refused(issued: IssuedReport, keydir: Path) -> None:
    h, _, s = issued.jws.decode().split(".")
    _, claims, _ = _parts(issued.jws)
    claims["facts"]["patients_count"] = 3
    forged = f"{h}.{_b64(json.dumps(claims).encode())}.{s}".encode()
    with pytest.raises(VerificationError, match="bad signature"):
        verify_report(forged, load_public_keys(keydir))


def test_tampered_documents_are_refused(issued: IssuedReport, keydir: Path) -> None:
    with pytest.raises(VerificationError, match="PDF of report 1/BC-BVPSM"):
        verify_report(issued.jws, load_public_keys(keydir), documents={"pdf": issued.pdf + b" "})


def test_a_report_signed_with_another_hospitals_key_is_refused(
        issued: IssuedReport, keydir: Path, tmp_path: Path) -> None:
    # bv-mau's report signed by a third hospital's ES256 key: sign_report itself refuses…
    from alerting.reports.signing import write_key_pair
    priv, _ = write_key_pair(tmp_path / "k3", "bv-ba", "ES256")
    intruder = load_signing_key(priv, "bv-ba")
    with pytest.raises(SigningError):
        sign_report(issued.payload, intruder)
    # …and a token forged with that key anyway fails against bv-mau's registered key.
    forged = jws.sign(issued.payload.to_json(), intruder.private_pem.decode(),
                      algorithm="ES256").encode()
    with pytest.raises(VerificationError, match="bad signature"):
        verify_report(forged, load_public_keys(keydir))
    # bv-khac (RS256) signing a payload that names bv-mau: the header does not fit the key.
    rsa_key = load_signing_key(keydir / "bv-khac.key.pem", "bv-khac")
    forged = jws.sign(issued.payload.to_json(), rsa_key.private_pem.decode(),
                      algorithm="RS256").encode()
    with pytest.raises(VerificationError, match="does not fit"):
        verify_report(forged, load_public_keys(keydir))


def test_unknown_hospital_is_refused(issued: IssuedReport, keydir: Path) -> None:
    keys = load_public_keys(keydir)
    del keys["bv-mau"]
    with pytest.raises(VerificationError, match="no public key"):
        verify_report(issued.jws, keys)


def test_alg_none_and_hmac_with_the_public_key_are_refused(issued: IssuedReport,
                                                           keydir: Path) -> None:
    keys = load_public_keys(keydir)
    payload = _b64(issued.payload.to_json())
    none_header = _b64(b'{"alg":"none"}')
    none = f"{none_header}.{payload}.sig".encode()
    with pytest.raises(VerificationError, match="'none' is not allowed"):
        verify_report(none, keys)
    none_empty = f"{none_header}.{payload}.".encode()
    with pytest.raises(VerificationError):
        verify_report(none_empty, keys)
    # Algorithm confusion: HS256 keyed with the hospital's public PEM.
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(keys["bv-mau"], signing_input, hashlib.sha256).digest()
    confused = signing_input + b"." + _b64(mac).encode()
    with pytest.raises(VerificationError, match="'HS256' is not allowed"):
        verify_report(confused, keys)
    with pytest.raises(VerificationError, match="subset"):
        verify_report(issued.jws, keys, algorithms=["ES256", "HS256"])


def test_a_signed_payload_outside_the_schema_is_refused(issued: IssuedReport, key: SigningKey,
                                                         keydir: Path) -> None:
    data = json.loads(issued.payload.to_json())
    data["surprise"] = "field"
    token = jws.sign(json.dumps(data).encode(), key.private_pem.decode(),
                     algorithm="ES256").encode()
    with pytest.raises(VerificationError, match="schema"):
        verify_report(token, load_public_keys(keydir))


def test_garbage_is_refused(keydir: Path) -> None:
    for junk in (b"", b"a.b", "ư.ư.ư".encode(), b"x" * 10, b"e30.e30.e30"):
        with pytest.raises(VerificationError):
            verify_report(junk, load_public_keys(keydir))
