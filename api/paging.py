"""Opaque cursors for keyset pages: signed, tied to the query that made them.

A cursor holds the sort values of the last item of a page (``after``), which kind of list
it belongs to and a fingerprint of the filters, sort and caller's scope. It is base64url
JSON plus an HMAC, so a client cannot forge a position, and a cursor from one query used
with other filters (or by another hospital's user) is refused with a 422 rather than
silently giving a wrong page. The position itself is no secret: every filter and the
caller's scope are applied again on every page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from api.errors import Invalid
from phiwatch.service import Keyset

MAX_CURSOR_CHARS = 2048
FIELD = "query.cursor"


def fingerprint(**parts: Any) -> str:
    """A short digest of what a cursor must be used with (filters, sort, scope)."""
    canonical = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()[:16])

    def encode(self, kind: str, print_: str, after: Keyset) -> str:
        payload = _b64(orjson.dumps({"v": 1, "k": kind, "f": print_, "a": list(after)}))
        return f"{payload}.{self._sign(payload)}"

    def decode(self, cursor: str, kind: str, print_: str) -> Keyset:
        """The position in ``cursor``; ``Invalid`` (422, field ``query.cursor``) when it
        is malformed, forged, or was made for another query."""
        if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
            raise Invalid("query.cursor: not a cursor this API made", field=FIELD)
        payload, signature = cursor.split(".")
        try:
            ok = hmac.compare_digest(self._sign(payload), signature)
        except (UnicodeEncodeError, TypeError):
            ok = False
        if not ok:
            raise Invalid("query.cursor: not a cursor this API made", field=FIELD)
        try:
            data = orjson.loads(_unb64(payload))
        except (ValueError, orjson.JSONDecodeError):
            raise Invalid("query.cursor: not a cursor this API made", field=FIELD) from None
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("k") != kind:
            raise Invalid("query.cursor: made for another list", field=FIELD)
        if data.get("f") != print_:
            raise Invalid("query.cursor: made for other filters or sort; start again "
                          "without a cursor", field=FIELD)
        after = data.get("a")
        if not isinstance(after, list) or not after:
            raise Invalid("query.cursor: not a cursor this API made", field=FIELD)
        return tuple(after)
