"""Patient identifiers leave the hospital as keyed pseudonyms, never as they are.

A plain hash of "BN2026001234" is reversed by hashing every possible patient number; a
keyed HMAC is not, as long as the key stays in the hospital. The hospital id is mixed in
so that two hospitals sharing a key by mistake still give unrelated pseudonyms, and the
same patient always gets the same pseudonym in one hospital's reports (the Department can
count repeat victims without learning who they are).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from alerting.reports.errors import FactsError

#: What ``facts_from_incident`` needs: patient id in, pseudonym out.
Pseudonymize = Callable[[str], str]

MIN_KEY_BYTES = 16


class HmacPseudonymizer:
    """``BN-`` plus 16 base32 characters (80 bits) of HMAC-SHA256(key, hospital, id)."""

    def __init__(self, key: bytes, hospital_id: str, *, prefix: str = "BN-") -> None:
        if len(key) < MIN_KEY_BYTES:
            raise FactsError("pseudonym key", f"needs at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._hospital = hospital_id.encode()
        self._prefix = prefix

    def __call__(self, patient_id: str) -> str:
        msg = self._hospital + b"\x00" + patient_id.strip().encode("utf-8", "surrogatepass")
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()
        return self._prefix + base64.b32encode(digest[:10]).decode()

    @staticmethod
    def generate_key() -> bytes:
        return secrets.token_bytes(32)

    @classmethod
    def from_key_file(cls, path: Path, hospital_id: str) -> HmacPseudonymizer:
        """Read (or create, mode 0600) the hospital's key file."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(cls.generate_key())
        return cls(path.read_bytes(), hospital_id)
