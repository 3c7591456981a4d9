"""The Department's inbox (department and inspectors): the reports hospitals sent,
newest first, filtered by hospital, in keyset pages that stay put while reports arrive;
one received report with its facts (patients by pseudonym only); its documents.

The list is the API's ``GET /inbox/reports`` (``list_received``) with its signed
cursors; the report and its documents are the API's ``GET /inbox/reports/{id}`` and
``…/documents/{name}``, which write the access audit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from api.console.errors import PREFIX
from api.console.filters import cursor, text
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.report_models import DocumentName
from api.routes.inbox import get_received, get_received_document, list_received

router = APIRouter(include_in_schema=False)
ReceivedId = Annotated[str, Path(max_length=160)]
Readers = Annotated[Viewer, Depends(signed_in("department", "inspector"))]
PAGE = 50


@router.get(f"{PREFIX}/inbox")
def inbox(request: Request, viewer: Readers, hospital: str | None = None,
          after: str | None = None) -> Response:
    chosen = text(hospital, "query.hospital")
    page = list_received(request, viewer.caller, hospital=chosen, limit=PAGE, offset=0,
                         cursor=cursor(after))
    params: dict[str, Any] = {"hospital": chosen} if chosen else {}
    return render(request, "inbox.html", {
        "page": page, "filters": {"hospital": chosen}, "params": params,
        "first_page": after is None,
        "hospitals": _senders(request),
    }, viewer)


def _senders(request: Request) -> list[str]:
    """The hospitals whose keys the inbox holds (and those the API knows), for the filter."""
    st = request.app.state.phiwatch
    keyring = st.reports.keyring if st.reports is not None else None
    return sorted({*st.config.api.hospitals, *(keyring.keys if keyring else ())})


@router.get(f"{PREFIX}/inbox/{{received_id}}")
def received(request: Request, viewer: Readers, received_id: ReceivedId) -> Response:
    report = get_received(request, viewer.caller, received_id)
    return render(request, "received.html", {"report": report, "facts": report.facts},
                  viewer)


@router.get(f"{PREFIX}/inbox/{{received_id}}/documents/{{name}}")
def received_document(request: Request, viewer: Readers, received_id: ReceivedId,
                      name: DocumentName) -> Response:
    return get_received_document(request, viewer.caller, received_id, name)
