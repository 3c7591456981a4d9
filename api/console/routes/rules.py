"""Rules (admin): every rule that loads, whether it is on, what validation found, and a
form to switch one on or off with a comment (the API's ``PUT /rules/{id}/enabled``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.errors import PREFIX
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.models import RuleStateIn, RuleValidateIn
from api.routes.rules import rules as list_rules
from api.routes.rules import set_enabled, validate

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(signed_in("admin"))]


def _page(request: Request, viewer: Viewer, *, error: str | None = None,
          done: str | None = None, status: int = 200) -> Response:
    found = list_rules(request, viewer.caller)
    checked = validate(request, viewer.caller, RuleValidateIn())
    problems: dict[str, list[str]] = {}
    unattached = []
    for p in checked.problems:
        if p.rule:
            problems.setdefault(p.rule, []).append(f"{p.level}: {p.message}")
        else:
            unattached.append(p)
    return render(request, "rules.html", {
        "rules": found, "validation": checked, "problems": problems,
        "unattached": unattached, "error": error,
        "done": done if done in {r.id for r in found} else None,
    }, viewer, status)


@router.get(f"{PREFIX}/rules")
def rules(request: Request, viewer: Admin, done: str | None = None) -> Response:
    return _page(request, viewer, done=done)


@router.post(f"{PREFIX}/rules/{{rule_id}}/enabled")
def switch(request: Request, viewer: Admin, rule_id: Annotated[str, Path(max_length=200)],
           enabled: Annotated[str, Form(max_length=10)] = "",
           comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        body = RuleStateIn(enabled=enabled == "true", comment=comment)
    except ValidationError:
        return _page(request, viewer, error="rules.comment_required", status=422)
    set_enabled(request, viewer.caller, rule_id, body)
    return RedirectResponse(f"{PREFIX}/rules?done={quote(rule_id, safe='')}",
                            status_code=303)
