"""``/inbox/reports``: the Department's instance receives hospitals' signed reports.

``POST`` takes no bearer JWT: the signed report is its own proof, verified against the
public key the Department registered for the hospital it names (several per hospital
during a rotation, told apart by ``kid``). A forgery — unknown hospital or key, a bad
signature, a payload signed by another hospital — is a 401, a malformed body or a
document whose hash is not the signed one a 422, and a report already received (the
same number of the same hospital, or the same ``Idempotency-Key``) a 409 that says
whether the stored copy is byte for byte this one, which a hospital's phiwatch counts as
delivered. When ``reports.department.inbox_token`` is set, the sender must present it as
``Authorization: Bearer``. The Department and inspectors read what was received; the
facts name patients by pseudonym only, and reading them is written to the access audit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.audit import record_access
from api.deps import Caller, allow, filter_text, state
from api.errors import Invalid, request_id
from api.paging import MAX_CURSOR_CHARS, fingerprint
from api.report_models import (
    AlreadyReceivedOut,
    DocumentName,
    ReceivedDetailOut,
    ReceivedOut,
    ReceivedPageOut,
    received_detail,
    received_out,
)
from api.routes.common import ERRORS, MAX_FILTER, NOT_FOUND
from api.routes.reports import DOCUMENT, MEDIA, attachment
from phiwatch.service import reports

router = APIRouter(tags=["inbox"])
ReceivedId = Annotated[str, Path(max_length=160)]
MAX_KEY_CHARS = 200
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ERRORS[401]["model"], "description": "Not proven: unknown hospital or "
          "key, a signature that does not verify, or a missing inbox token"},
    404: {"model": ERRORS[401]["model"], "description": "This instance has no inbox"},
    409: {"model": AlreadyReceivedOut, "description": "Already received (``identical``: "
          "the same bytes, a retry)"},
    413: {"model": ERRORS[401]["model"], "description": "Larger than 16 MiB"},
    422: {"model": ERRORS[422]["model"], "description": "Not a signed report: a malformed "
          "body, a payload off the schema, or a document that does not match its hash"},
    503: ERRORS[503],
}
REQUEST_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    reports.JOSE_TYPE: {"schema": {"type": "string", "description": "The compact JWS"}},
    reports.ENVELOPE_TYPE: {"schema": {
        "type": "object", "required": ["jws"], "additionalProperties": False,
        "properties": {"jws": {"type": "string"},
                       "docx": {"type": "string", "description": "base64"},
                       "pdf": {"type": "string", "description": "base64"}}}},
}}}


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@router.post("/inbox/reports", response_model=ReceivedOut, status_code=201,
             responses=POST_RESPONSES, openapi_extra=REQUEST_BODY,
             summary="Receive a hospital's signed report (the JWS alone, or with its DOCX "
                     "and PDF)")
async def receive(request: Request) -> Any:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_KEY_CHARS:
        raise Invalid("header.Idempotency-Key: 1 to 200 characters",
                      field="header.Idempotency-Key")
    body = await request.body()
    st = state(request)
    try:
        received = reports.receive_report(
            st.reports, body, request.headers.get("content-type", ""),
            now=datetime.now(UTC), idempotency_key=key, bearer=_bearer(request))
    except reports.AlreadyReceived as e:
        submitted = reports.ReceivedReport(
            id=e.existing.id, payload=e.existing.payload, jws=_jws_of(body, request),
            key_id="", received_at=e.existing.received_at)
        identical = reports.same_content(e.existing, submitted)
        out = AlreadyReceivedOut(error="already_received", message=str(e),
                                 request_id=request_id(request), report_id=e.existing.id,
                                 identical=identical)
        return JSONResponse(out.model_dump(), status_code=409)
    return JSONResponse(received_out(received).model_dump(mode="json"), status_code=201)


def _jws_of(body: bytes, request: Request) -> bytes:
    """The JWS a replayed body carries (to compare with the stored one)."""
    try:
        return reports.parse_jws(body, request.headers.get("content-type", ""))
    except reports.ReportError:
        return b""


@router.get("/inbox/reports", response_model=ReceivedPageOut, responses=ERRORS,
            summary="Reports received from hospitals, newest first")
def list_received(
    request: Request,
    caller: Annotated[Caller, Depends(allow("department", "inspector"))],
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=9500)] = 0,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS, description=(
        "The next_cursor of the previous page: pages that stay put while reports "
        "arrive"))] = None,
) -> ReceivedPageOut:
    st = state(request)
    org = filter_text(hospital, "query.hospital")
    print_ = fingerprint(kind="inbox", org=org, role=caller.role)
    after = _position(st.cursors.decode(cursor, "inbox", print_)) if cursor else None
    if after is not None and offset:
        raise Invalid("query.offset: not with a cursor", field="query.offset")
    page = reports.received_page(st.reports, org, limit, offset, after)
    return ReceivedPageOut(
        items=[received_out(r) for r in page.items], total=page.total,
        next_cursor=(st.cursors.encode("inbox", print_, page.next_after)
                     if page.next_after is not None else None))


def _position(after: tuple[object, ...]) -> tuple[int, str]:
    if len(after) != 2 or not isinstance(after[0], int) or not isinstance(after[1], str):
        raise Invalid("query.cursor: not a cursor this API made", field="query.cursor")
    return after[0], after[1]


@router.get("/inbox/reports/{received_id}", response_model=ReceivedDetailOut,
            responses={**ERRORS, **NOT_FOUND},
            summary="One received report with its facts (patients by pseudonym)")
def get_received(
    request: Request,
    caller: Annotated[Caller, Depends(allow("department", "inspector"))],
    received_id: ReceivedId,
) -> ReceivedDetailOut:
    found = reports.received_report(state(request).reports, received_id)
    out = received_detail(found)
    record_access(request, caller, [found.id], len(found.payload.facts.affected_patients))
    return out


@router.get("/inbox/reports/{received_id}/documents/{name}", response_class=Response,
            responses={**ERRORS, **NOT_FOUND, **DOCUMENT},
            summary="Download a received report's DOCX, PDF or signed JSON copy (JWS)")
def get_received_document(
    request: Request,
    caller: Annotated[Caller, Depends(allow("department", "inspector"))],
    received_id: ReceivedId,
    name: DocumentName,
) -> Response:
    found = reports.received_report(state(request).reports, received_id)
    data = {"docx": found.docx, "pdf": found.pdf, "jws": found.jws}[name]
    if not data:
        raise reports.ReportNotFound(f"received report {received_id}",
                                     f"came without its {name}")
    record_access(request, caller, [found.id], len(found.payload.facts.affected_patients))
    return attachment(data, MEDIA[name], f"{found.id}.{name}")
