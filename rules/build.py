"""From parsed pySigma rules to the compiled rules the engine runs.

Each function raises ``BuildError`` with a message for the rule's author; the loader turns
that into a ``RuleError`` naming the file and the rule, and goes on with the other rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from rules.alert import SEVERITIES
from rules.baseline_spec import SpecError, field_list, parse_duration
from rules.compiler import CompileError, compile_rule, requirement
from rules.explain import AlertSpec
from rules.logsource import datasets_for, describe
from rules.model import (
    CONDITION_OPS,
    ConditionOp,
    CorrelationKind,
    CorrelationRule,
    DetectionRule,
    Presence,
)
from rules.stream import RESERVED, Stream, extensions
from sensors.errors import RuleDefinitionError

T = TypeVar("T")


_KINDS: dict[SigmaCorrelationType, CorrelationKind] = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.VALUE_SUM: "value_sum",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}
_OPS: dict[str, ConditionOp] = {
    "gte": "gte", "gt": "gt", "lte": "lte", "lt": "lt", "eq": "eq", "neq": "neq",
}


class BuildError(RuleDefinitionError):
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
    known = RESERVED | extensions().keys()
    warnings = [f"unknown key 'phiwatch.{k}' ignored" for k in block if k not in known]
    return template, tuple(context), warnings


class Pending(BuildError):
    """The correlation references a correlation not built yet: try again after it."""


def referenced(ref: Any, compiled: Mapping[int, DetectionRule],
               chained: Mapping[int, DetectionRule] | None = None) -> DetectionRule:
    """The compiled rule a correlation's reference points at: a detection rule, or the
    stand-in (``rules.chain``) of a correlation, from ``chained`` (by id of the Sigma
    correlation)."""
    target: Any = ref.rule
    if isinstance(target, SigmaCorrelationRule):
        base = (chained or {}).get(id(target))
        if base is None:
            raise Pending(f"referenced correlation '{ref.reference}' is not evaluated "
                          "(see its own message)", warning=True)
        return base
    base = compiled.get(id(target))
    if base is None:
        raise BuildError(
            f"referenced rule '{ref.reference}' is not evaluated (see its own message)",
            warning=True,
        )
    return base


def _block(rule: SigmaRule | SigmaCorrelationRule) -> Mapping[str, Any]:
    block = rule.custom_attributes.get("phiwatch")
    return block if isinstance(block, Mapping) else {}


def realert(rule: SigmaRule | SigmaCorrelationRule) -> tuple[float, tuple[str, ...]]:
    """``phiwatch.realert`` in seconds (0 when absent) and ``realert_by`` (plain rules)."""
    block = _block(rule)
    try:
        seconds = parse_duration(block.get("realert", 0), "phiwatch.realert")
        by = field_list(block.get("realert_by", ["user.id"]), "phiwatch.realert_by")
    except SpecError as e:
        raise BuildError(str(e)) from e
    return seconds, by


def stream(rule: SigmaRule) -> Stream | None:
    """The rule's stream extension block (``rules.stream``) parsed, if it has one."""
    block = _block(rule)
    present = [k for k in block if k in extensions()]  # in the order the author wrote
    if not present:
        return None
    if len(present) > 1:
        raise BuildError(f"a rule takes one of 'phiwatch.{present[0]}' and "
                         f"'phiwatch.{present[1]}', not both")
    ext = extensions()[present[0]]
    try:
        return Stream(ext, ext.parse(block[ext.key]))
    except SpecError as e:
        raise BuildError(str(e)) from e


def digest(rule: SigmaRule | SigmaCorrelationRule, *parts: str) -> str:
    """A fingerprint of the rule as written (and of ``parts``: its base rules' digests)."""
    text = orjson.dumps([rule.to_dict(), parts], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(text, digest_size=12).hexdigest()


#: Evidence fields a plain rule's alerts carry at most (beyond the base context).
MAX_EVIDENCE_FIELDS = 12


def evidence_fields(rule: SigmaRule) -> list[str]:
    """The fields a triager needs to see why a plain rule matched: those its Sigma
    ``fields:`` list names, then those its detection tests (ECS names, after the taxonomy
    translation). Without them a community rule's alert would say "Raw Paste Service
    Access" and leave out the URL."""

    def tested(d: SigmaDetection | SigmaDetectionItem) -> list[str]:
        if isinstance(d, SigmaDetectionItem):
            return [d.field] if d.field else []
        return [f for item in d.detection_items for f in tested(item)]

    names = [*(rule.fields or [])]
    for detection in rule.detection.detections.values():
        names.extend(tested(detection))
    return [n for n in dict.fromkeys(names) if "." in n][:MAX_EVIDENCE_FIELDS]


def alert_spec(rule: SigmaRule | SigmaCorrelationRule) -> tuple[AlertSpec, list[str]]:
    template, context, warnings = extension(rule)
    if isinstance(rule, SigmaRule):
        context = (*context, *evidence_fields(rule))
    if "realert" in _block(rule) and isinstance(rule, SigmaRule):
        context = (*context, *realert(rule)[1])  # plain rules are suppressed by these fields
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
    every, by = realert(rule)
    det = DetectionRule(rule_id(rule), rule.name, path, spec, datasets, predicate,
                        alerts, requirement=required, realert=every, realert_by=by,
                        stream=stream(rule), digest=digest(rule))
    det.alerts = alerts and not det.stateful
    return det, warnings


def build_correlation(
    rule: SigmaCorrelationRule, path: str, compiled: Mapping[int, DetectionRule],
    chained: Mapping[int, DetectionRule] | None = None, *, alerts: bool = True,
) -> tuple[CorrelationRule, list[str]]:
    """Compile a correlation whose references are resolved; ``compiled`` maps id(SigmaRule)
    to detection rules, ``chained`` id(SigmaCorrelationRule) to correlations' stand-ins.
    Raises ``Pending`` while a referenced correlation is not built yet."""
    kind = _KINDS.get(rule.type)
    if kind is None:
        raise BuildError(f"correlation type '{rule.type.name.lower()}' is not supported yet")
    cond = rule.condition
    for key in extensions():
        if key in _block(rule):
            raise BuildError(f"'phiwatch.{key}' belongs in a detection rule, not a correlation")
    if kind not in ("temporal", "temporal_ordered") and any(
            isinstance(ref.rule, SigmaCorrelationRule) for ref in rule.rules or []):
        raise BuildError("a correlation of correlations must be 'temporal' or "
                             "'temporal_ordered' (an episode's alert events are updates, "
                             "not new events to count)")
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        corr, warnings = _temporal(rule, path, compiled, kind, chained)
        corr.alerts = alerts
        return corr, warnings
    if not isinstance(cond, SigmaCorrelationCondition):  # pragma: no cover
        raise BuildError("this correlation condition is not supported")
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
        base = referenced(ref, compiled, chained)
        if base in bases:
            continue
        bases.append(base)

        def field_of(name: str, reference: str = ref.reference) -> str:
            return aliases.get(name, {}).get(reference, name)

        group_fields[base.id] = tuple(field_of(g) for g in group_by)
        value_fields[base.id] = field_of(cond.fieldref) if cond.fieldref else None
    if not bases:
        raise BuildError("the correlation references no rule")
    presence: Presence | None = None
    if kind == "temporal":
        compare, threshold = CONDITION_OPS[op], float(cond.count)

        def presence(seen: frozenset[int]) -> bool:
            return compare(len(seen), threshold)
    elif kind == "temporal_ordered" and not (op == "gte" and cond.count == len(bases)):
        raise BuildError("temporal_ordered takes no condition but the default (all rules, "
                         "in order); use 'temporal' to count rules")
    min_counts = ordered_counts(rule, bases) if kind == "temporal_ordered" else ()
    spec, warnings = alert_spec(rule)
    corr = CorrelationRule(
        id=rule_id(rule), name=rule.name, path=path, spec=spec, kind=kind, bases=tuple(bases),
        group_by=group_by, group_fields=group_fields, value_fields=value_fields,
        timespan=float(rule.timespan.seconds), op=op, threshold=float(cond.count),
        field_name=cond.fieldref if isinstance(cond.fieldref, str) else None,
        presence=presence, realert=realert(rule)[0], min_counts=min_counts,
        digest=digest(rule, *sorted(b.digest for b in bases)), alerts=alerts,
    )
    return corr, warnings


def ordered_counts(rule: SigmaCorrelationRule, bases: list[DetectionRule]) -> tuple[int, ...]:
    """``phiwatch.ordered_counts``: how many matches each step of a ``temporal_ordered``
    chain needs (1 by default) — "five failed logins, then a success" is a chain whose
    first step needs five events."""
    block = _block(rule).get("ordered_counts")
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise BuildError("'phiwatch.ordered_counts' must map rule names to counts")
    names = {name: i for i, b in enumerate(bases) for name in (b.name, b.id) if name}
    counts = [1] * len(bases)
    for name, count in block.items():
        if name not in names:
            raise BuildError(f"'phiwatch.ordered_counts' names {name!r}, which is not one "
                             f"of the correlation's rules")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise BuildError(f"'phiwatch.ordered_counts.{name}' must be a whole number >= 1")
        counts[names[name]] = count
    return tuple(counts)


def _bases(
    rule: SigmaCorrelationRule, compiled: Mapping[int, DetectionRule],
    chained: Mapping[int, DetectionRule] | None,
) -> tuple[list[DetectionRule], dict[str, int]]:
    """The referenced rules, and each reference's index among them."""
    bases: list[DetectionRule] = []
    index: dict[str, int] = {}
    for ref in rule.rules or []:
        base = referenced(ref, compiled, chained)
        if base not in bases:
            bases.append(base)
        index[ref.reference] = bases.index(base)
        for k in (base.id, base.name):
            if k:
                index.setdefault(k, bases.index(base))
    return bases, index


def _temporal(
    rule: SigmaCorrelationRule, path: str, compiled: Mapping[int, DetectionRule],
    kind: CorrelationKind, chained: Mapping[int, DetectionRule] | None,
) -> tuple[CorrelationRule, list[str]]:
    """A ``temporal`` rule with an extended condition (``a and not b``)."""
    if kind != "temporal":
        raise BuildError("an extended condition (rule names with and/or/not) needs "
                         "correlation type 'temporal'")
    cond = rule.condition
    assert isinstance(cond, SigmaExtendedCorrelationCondition)
    bases, index = _bases(rule, compiled, chained)
    if not bases:
        raise BuildError("the correlation references no rule")
    presence = _presence(cond.parsed, index)
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in rule.aliases}
    group_by = tuple(rule.group_by or ())
    refs = {i: r.reference for r in rule.rules or [] for i in [index[r.reference]]}
    group_fields = {b.id: tuple(aliases.get(g, {}).get(refs[i], g) for g in group_by)
                    for i, b in enumerate(bases)}
    spec, warnings = alert_spec(rule)
    corr = CorrelationRule(
        id=rule_id(rule), name=rule.name, path=path, spec=spec, kind=kind, bases=tuple(bases),
        group_by=group_by, group_fields=group_fields, value_fields=dict.fromkeys(group_fields),
        timespan=float(rule.timespan.seconds), op="gte", threshold=float(len(bases)),
        presence=presence, realert=realert(rule)[0],
        digest=digest(rule, *sorted(b.digest for b in bases)),
    )
    return corr, warnings


def _presence(node: CorrelationConditionItem | SigmaRuleReference,
              index: Mapping[str, int]) -> Presence:
    """An extended condition as a function of the set of base rules seen."""
    if isinstance(node, SigmaRuleReference):
        if node.reference not in index:
            raise BuildError(f"the condition names '{node.reference}', which is not among "
                             "the correlation's rules")
        i = index[node.reference]
        return lambda seen: i in seen
    args = [_presence(a, index) for a in node.args]
    if isinstance(node, CorrelationConditionNOT):
        inner = args[0]
        return lambda seen: not inner(seen)
    if isinstance(node, CorrelationConditionAND):
        return lambda seen: all(a(seen) for a in args)
    if isinstance(node, CorrelationConditionOR):
        return lambda seen: any(a(seen) for a in args)
    raise BuildError(f"condition element {node!r} is not supported")  # pragma: no cover
