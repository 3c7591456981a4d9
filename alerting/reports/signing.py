"""Signing the JSON copy as a JWS with the hospital's key, and verifying it strictly.

python-jose is permissive by default (``algorithms=None`` accepts what the token says), so
the verifier never lets the token choose: the algorithm must be in the caller's
allow-list (ES256 and RS256 by default; never ``none``, never HS*), must match the type of
the key registered for the hospital the payload names (an EC P-256 key verifies ES256
only, an RSA key RS256 only), and the signature is then checked with that one algorithm.
A token whose header says HS256 and was "signed" with the public key as an HMAC secret
(the classic algorithm confusion) is refused before any key is used. python-jose ≥ 3.4
(CVE-2024-33663/33664) with the ``cryptography`` backend is required.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jws
from jose.exceptions import JOSEError

from alerting.reports.errors import ForgeryError, SigningError, VerificationError
from alerting.reports.payload import SignedReport, published_schema, sha256

Algorithm = Literal["ES256", "RS256"]
SUPPORTED: frozenset[str] = frozenset({"ES256", "RS256"})
TOKEN_TYPE = "phiwatch-report+jws"
MAX_TOKEN_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A hospital's private key (PEM) and the algorithm it signs with."""

    hospital_id: str
    algorithm: Algorithm
    private_pem: bytes

    @property
    def key_id(self) -> str:
        return key_id(public_pem(self.private_pem))


def _load_private(pem: bytes) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise SigningError("private key", f"not an unencrypted PEM private key: {e}") from e
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key
    raise SigningError("private key", f"{type(key).__name__} is neither EC nor RSA")


def _algorithm_of(key: object) -> Algorithm:
    """The one algorithm a key may be used with; anything else is refused."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise SigningError("key", f"EC curve {key.curve.name} is not P-256 (ES256)")
        return "ES256"
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SigningError("key", f"RSA key of {key.key_size} bits; at least 2048")
        return "RS256"
    raise SigningError("key", f"{type(key).__name__} is neither EC P-256 nor RSA")


def generate_key_pair(algorithm: Algorithm = "ES256") -> tuple[bytes, bytes]:
    """A new (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM) pair."""
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise SigningError("algorithm", f"{algorithm!r} is not one of ES256, RS256")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, public_pem(pem)


def public_pem(private: bytes) -> bytes:
    return _load_private(private).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public: bytes) -> str:
    """SHA-256 of the DER public key, base64url: names the key in the JWS header."""
    key = serialization.load_pem_public_key(public)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def write_key_pair(directory: Path, hospital_id: str,
                   algorithm: Algorithm = "ES256") -> tuple[Path, Path]:
    """``<hospital>.key.pem`` (mode 0600) and ``<hospital>.pub.pem`` in ``directory``."""
    if not hospital_id or "/" in hospital_id or hospital_id.startswith("."):
        raise SigningError("hospital id", f"{hospital_id!r} cannot name a key file")
    directory.mkdir(parents=True, exist_ok=True)
    private, public = generate_key_pair(algorithm)
    priv_path = directory / f"{hospital_id}.key.pem"
    pub_path = directory / f"{hospital_id}.pub.pem"
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    pub_path.write_bytes(public)
    return priv_path, pub_path


def load_signing_key(path: Path, hospital_id: str) -> SigningKey:
    pem = path.read_bytes()
    return SigningKey(hospital_id, _algorithm_of(_load_private(pem)), pem)


def load_public_keys(directory: Path) -> dict[str, bytes]:
    """Every ``<hospital>.pub.pem`` of ``directory``: the Department's key registry."""
    return {p.name.removesuffix(".pub.pem"): p.read_bytes()
            for p in sorted(directory.glob("*.pub.pem"))}


def sign_report(report: SignedReport, key: SigningKey) -> bytes:
    """The compact JWS of ``report``, signed by ``key`` (which must be its hospital's)."""
    if report.hospital_id != key.hospital_id:
        raise SigningError(f"report of {report.hospital_id}",
                           f"cannot be signed with the key of {key.hospital_id}")
    if _algorithm_of(_load_private(key.private_pem)) != key.algorithm:
        raise SigningError(f"key of {key.hospital_id}", f"does not sign {key.algorithm}")
    try:
        token = jws.sign(report.to_json(), key.private_pem.decode(), algorithm=key.algorithm,
                         headers={"typ": TOKEN_TYPE, "kid": key.key_id})
    except JOSEError as e:
        raise SigningError(f"report {report.number_text}", str(e)) from e
    return token.encode("ascii")


def _b64json(part: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise VerificationError("signed report", f"{what} is not base64url JSON") from e


def peek(jws_bytes: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a compact JWS, *unverified*: only to choose the key to
    verify with (``kid``, ``hospital_id``) or to say what a refused token claimed."""
    if len(jws_bytes) > MAX_TOKEN_BYTES:
        raise VerificationError("signed report", "larger than 8 MiB")
    try:
        token = jws_bytes.decode("ascii").strip()
    except UnicodeDecodeError as e:
        raise VerificationError("signed report", "not a compact JWS (non-ASCII)") from e
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise VerificationError("signed report", "not a compact JWS (three non-empty parts)")
    header = _b64json(parts[0], "header")
    claims = _b64json(parts[1], "payload")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise VerificationError("signed report", "header and payload must be JSON objects")
    return header, claims


def verify_report(
    jws_bytes: bytes,
    public_keys_by_hospital: Mapping[str, bytes | str],
    *,
    documents: Mapping[str, bytes] | None = None,
    algorithms: Iterable[str] = ("ES256", "RS256"),
) -> SignedReport:
    """The report inside ``jws_bytes`` if, and only if, everything holds.

    The signature must verify with the key registered for the hospital the payload names,
    with an algorithm in ``algorithms`` that fits that key; the payload must validate
    against the published JSON Schema; and each of ``documents`` given ("docx", "pdf":
    bytes) must hash to what the payload says. Anything else is a ``VerificationError``
    saying what failed.
    """
    allowed = set(algorithms)
    if not allowed or not allowed <= SUPPORTED:
        raise VerificationError("algorithm allow-list",
                                f"{sorted(allowed)} must be a non-empty subset of ES256, RS256")
    header, claims = peek(jws_bytes)
    token = jws_bytes.decode("ascii").strip()
    alg = header.get("alg")
    if alg not in allowed:
        raise ForgeryError("signed report", f"algorithm {alg!r} is not allowed "
                                            f"(allowed: {', '.join(sorted(allowed))})")
    if header.get("crit"):
        raise VerificationError("signed report", "critical header extensions are not supported")
    hospital = claims.get("hospital_id")
    if not isinstance(hospital, str) or hospital not in public_keys_by_hospital:
        raise ForgeryError(f"hospital {hospital!r}", "no public key is registered for it")
    pem = public_keys_by_hospital[hospital]
    pem_bytes = pem.encode() if isinstance(pem, str) else pem
    try:
        key_alg = _algorithm_of(serialization.load_pem_public_key(pem_bytes))
    except (SigningError, ValueError) as e:
        raise VerificationError(f"key of {hospital}", f"unusable: {e}") from e
    if alg != key_alg:
        raise ForgeryError(f"report of {hospital}",
                           f"header algorithm {alg} does not fit the hospital's {key_alg} key")
    try:
        payload = jws.verify(token, pem_bytes.decode(), algorithms=[key_alg])
    except JOSEError as e:
        raise ForgeryError(f"report of {hospital}", f"bad signature: {e}") from e
    try:
        data = json.loads(payload)
        jsonschema.validate(data, published_schema(),
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        report = SignedReport.model_validate(data)
    except (ValueError, jsonschema.ValidationError) as e:  # pydantic's error is a ValueError
        raise VerificationError(f"report of {hospital}",
                                f"payload does not match the schema: {e}") from e
    for name, data_bytes in (documents or {}).items():
        expected = {"docx": report.documents.docx_sha256,
                    "pdf": report.documents.pdf_sha256}.get(name)
        if expected is None:
            raise VerificationError(f"document {name!r}", "is neither 'docx' nor 'pdf'")
        if not hmac.compare_digest(sha256(data_bytes), expected):
            raise VerificationError(f"{name.upper()} of report {report.number_text}",
                                    "does not match the hash the hospital signed")
    return report
