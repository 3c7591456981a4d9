"""``/rules`` (admin): the rules that load, validating a rule, switching one on or off.

Switching writes ``<state_dir>/rules-state.json`` (``phiwatch.rules_state``), which the
engine reads; the rule files themselves are never changed through the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.deps import Caller, allow, state
from api.models import RuleOut, RuleProblemOut, RuleStateIn, RuleValidateIn, RuleValidationOut
from api.routes.common import ERRORS, NOT_FOUND
from phiwatch.service import (
    RuleInfo,
    list_rules,
    set_rule_enabled,
    validate_rule_text,
    validate_rules,
)

router = APIRouter(tags=["rules"])
Admin = Annotated[Caller, Depends(allow("admin"))]


def _out(r: RuleInfo) -> RuleOut:
    return RuleOut(id=r.id, title=r.title, severity=r.severity, kind=r.kind, path=r.path,
                   alerts=r.alerts, enabled=r.enabled, disabled_by=r.disabled_by,
                   disabled_at=r.disabled_at, comment=r.comment)


@router.get("/rules", response_model=list[RuleOut], responses=ERRORS,
            summary="Every rule that loads from the configured folders, on or off")
def rules(request: Request, caller: Admin) -> list[RuleOut]:
    config = state(request).config
    return [_out(r) for r in list_rules(config.rules.paths, config.rules_state_path)]


@router.post("/rules/validate", response_model=RuleValidationOut, responses=ERRORS,
             summary="Parse and compile a rule (or the configured rule folders)")
def validate(request: Request, caller: Admin, body: RuleValidateIn) -> RuleValidationOut:
    config = state(request).config
    result = (validate_rule_text(body.rule_yaml) if body.rule_yaml is not None
              else validate_rules(config.rules.paths))
    return RuleValidationOut(ok=result.ok, ready=result.ready, problems=[
        RuleProblemOut(path=e.path, rule=e.rule, level=e.level, message=e.message)
        for e in result.errors])


@router.put("/rules/{rule_id}/enabled", response_model=RuleOut,
            responses={**ERRORS, **NOT_FOUND},
            summary="Switch a rule on or off (the engine reads the rules state)")
def set_enabled(
    request: Request,
    caller: Admin,
    rule_id: Annotated[str, Path(max_length=200)],
    body: RuleStateIn,
) -> RuleOut:
    config = state(request).config
    return _out(set_rule_enabled(config.rules.paths, config.rules_state_path, rule_id,
                                 body.enabled, caller.subject, body.comment))
