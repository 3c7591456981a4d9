"""From parsed pySigma rules to the compiled rules the engine runs.

Each function raises ``BuildError`` with a message for the rule's author; the loader turns
that into a ``RuleError`` naming the file and the rule, and goes on with the other rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from rules.alert import SEVERITIES
from rules.compiler import CompileError, compile_rule, requirement
from rules.explain import AlertSpec
from rules.logsource import datasets_for, describe
from rules.model import ConditionOp, CorrelationKind, CorrelationRule, DetectionRule

#: The keys phiwatch reads inside a rule's ``phiwatch:`` block.
EXTENSION_KEYS = frozenset({"explain", "context"})

_KINDS: dict[SigmaCorrelationType, CorrelationKind] = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.VALUE_SUM: "value_sum",
}
_OPS: dict[str, ConditionOp] = {
    "gte": "gte", "gt": "gt", "lte": "lte", "lt": "lt", "eq": "eq", "neq": "neq",
}


class BuildError(Exception):
    """A rule that cannot be evaluated; ``warning`` when that is by design, not a mistake."""

    def __init__(self, message: str, *, warning: bool = False) -> None:
        super().__init__(message)
        self.warning = warning


def sigma_message(error: Exception) -> str:
    """pySigma's message without the absolute path it appends (the report names the file)."""
    if isinstance(error, SigmaError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__


def rule_id(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """A rule's identity in alerts: its name, else its id, else its title.

    The name comes first because people type it (``phiwatch alerts --rule NAME``) and read
    it in alert lists; both name and id are unique within a rule set (the loader checks).
    """
    if rule.name:
        return rule.name
    return str(rule.id) if rule.id is not None else rule.title


def rule_label(rule: SigmaRule | SigmaCorrelationRule) -> str | None:
    """How messages name a rule: its title, else its id or name."""
    return rule.title or (str(rule.id) if rule.id else None) or rule.name


def extension(
    rule: SigmaRule | SigmaCorrelationRule,
) -> tuple[str | None, tuple[str, ...], list[str]]:
    """The ``phiwatch:`` block: template, context fields and warnings about unknown keys."""
    block = rule.custom_attributes.get("phiwatch")
    if block is None:
        return None, (), []
    if not isinstance(block, Mapping):
        raise BuildError("'phiwatch' must be a mapping with 'explain' and/or 'context'")
    template = block.get("explain")
    if template is not None and not isinstance(template, str):
        raise BuildError("'phiwatch.explain' must be a string")
    context = block.get("context", [])
    if isinstance(context, str):
        context = [context]
    if not isinstance(context, list) or not all(isinstance(c, str) for c in context):
        raise BuildError("'phiwatch.context' must be a list of field names")
    warnings = [f"unknown key 'phiwatch.{k}' ignored" for k in block if k not in EXTENSION_KEYS]
    return template, tuple(context), warnings


def alert_spec(rule: SigmaRule | SigmaCorrelationRule) -> tuple[AlertSpec, list[str]]:
    template, context, warnings = extension(rule)
    severity = rule.level.name.lower() if rule.level is not None else "medium"
    if severity not in SEVERITIES:
        severity = "medium"
    spec = AlertSpec.build(
        rule_id(rule), rule.title or rule_id(rule), severity, [str(t) for t in rule.tags],
        template, context,
    )
    return spec, warnings


def build_detection(rule: SigmaRule, path: str, alerts: bool) -> tuple[DetectionRule, list[str]]:
    """Compile a detection rule; a logsource phiwatch has no events for is a warning."""
    datasets = datasets_for(rule.logsource)
    if not datasets:
        raise BuildError(
            f"logsource ({describe(rule.logsource)}) matches no phiwatch event dataset; "
            "the rule is not evaluated",
            warning=True,
        )
    try:
        predicate = compile_rule(rule)
        required = requirement(rule)
    except CompileError as e:
        raise BuildError(str(e)) from e
    except SigmaError as e:
        raise BuildError(sigma_message(e)) from e
    spec, warnings = alert_spec(rule)
    det = DetectionRule(rule_id(rule), rule.name, path, spec, datasets, predicate, alerts,
                        requirement=required)
    return det, warnings


def build_correlation(
    rule: SigmaCorrelationRule, path: str, compiled: Mapping[int, DetectionRule]
) -> tuple[CorrelationRule, list[str]]:
    """Compile a correlation whose references are resolved; ``compiled`` maps id(SigmaRule)."""
    kind = _KINDS.get(rule.type)
    if kind is None:
        raise BuildError(f"correlation type '{rule.type.name.lower()}' is not supported yet")
    cond = rule.condition
    if not isinstance(cond, SigmaCorrelationCondition):
        raise BuildError("extended correlation conditions are not supported")
    op = _OPS.get(cond.op.name.lower())
    if op is None:  # pragma: no cover - pySigma knows no other operators
        raise BuildError(f"condition operator '{cond.op.name.lower()}' is not supported")
    if cond.fieldref is not None and not isinstance(cond.fieldref, str):
        raise BuildError("a condition on several fields is not supported")
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()}
               for a in rule.aliases}
    group_by = tuple(rule.group_by or ())
    bases: list[DetectionRule] = []
    group_fields: dict[str, tuple[str, ...]] = {}
    value_fields: dict[str, str | None] = {}
    for ref in rule.rules or []:
        target: Any = ref.rule
        if isinstance(target, SigmaCorrelationRule):
            raise BuildError(f"correlation of correlation '{ref.reference}' is not supported")
        base = compiled.get(id(target))
        if base is None:
            raise BuildError(
                f"referenced rule '{ref.reference}' is not evaluated (see its own message)",
                warning=True,
            )
        if base in bases:
            continue
        bases.append(base)

        def field_of(name: str, reference: str = ref.reference) -> str:
            return aliases.get(name, {}).get(reference, name)

        group_fields[base.id] = tuple(field_of(g) for g in group_by)
        value_fields[base.id] = field_of(cond.fieldref) if cond.fieldref else None
    if not bases:
        raise BuildError("the correlation references no rule")
    spec, warnings = alert_spec(rule)
    corr = CorrelationRule(
        id=rule_id(rule), name=rule.name, path=path, spec=spec, kind=kind, bases=tuple(bases),
        group_by=group_by, group_fields=group_fields, value_fields=value_fields,
        timespan=float(rule.timespan.seconds), op=op, threshold=float(cond.count),
        field_name=cond.fieldref if isinstance(cond.fieldref, str) else None,
    )
    return corr, warnings
