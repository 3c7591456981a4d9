"""What the route modules share: documented error answers and the filter parameters."""

from __future__ import annotations

from typing import Any

from api.models import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token, or a token that does not verify"},
    403: {"model": ErrorOut, "description": "The token's role may not use this route"},
    413: {"model": ErrorOut, "description": "The request body is too large (1 MiB; the "
                                            "inbox 16 MiB; a remote sensor's batch: "
                                            "ingest.max_batch_bytes)"},
    422: {"model": ErrorOut, "description": "A parameter is invalid (``field`` names it)"},
    503: {"model": ErrorOut, "description": "The alert store or the audit log is not "
                                            "answering"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such object (or not in your hospital)"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Illegal status transition, or a stale "
                                            "expected_version"},
}
#: Longest filter value (rule, user, hospital, words) a query takes.
MAX_FILTER = 200
