"""Sigma detections compiled into Python predicates over ``Event.fields``.

The engine calls a rule's predicate on every event of its dataset, so the condition tree is
turned into a tree of closures once: several exact values of one field become one set
lookup, and the cheap tests of an ``and``/``or`` go first. The tests of single values, and
the Sigma matching semantics, are in ``rules.matchers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.modifiers import (
    SigmaAllModifier,
    SigmaBase64Modifier,
    SigmaCaseSensitiveModifier,
    SigmaCIDRModifier,
    SigmaContainsModifier,
    SigmaEndswithModifier,
    SigmaExistsModifier,
    SigmaGreaterThanEqualModifier,
    SigmaGreaterThanModifier,
    SigmaLessThanEqualModifier,
    SigmaLessThanModifier,
    SigmaModifier,
    SigmaNegateModifier,
    SigmaNotEqualModifier,
    SigmaRegularExpressionDotAllFlagModifier,
    SigmaRegularExpressionIgnoreCaseFlagModifier,
    SigmaRegularExpressionModifier,
    SigmaRegularExpressionMultilineFlagModifier,
    SigmaStartswithModifier,
    reverse_modifier_mapping,
)
from sigma.rule import SigmaRule
from sigma.rule.detection import SigmaDetection, SigmaDetectionItem

from rules.matchers import (
    CompileError,
    Fields,
    Node,
    Predicate,
    field_in,
    field_node,
    is_plain,
    keyword_node,
    literal,
)

__all__ = ["CompileError", "Predicate", "Requirement", "compile_rule", "requirement"]

SUPPORTED_MODIFIERS: frozenset[type[SigmaModifier[Any, Any]]] = frozenset(
    {
        SigmaContainsModifier,
        SigmaStartswithModifier,
        SigmaEndswithModifier,
        SigmaAllModifier,
        SigmaRegularExpressionModifier,
        SigmaRegularExpressionIgnoreCaseFlagModifier,
        SigmaRegularExpressionMultilineFlagModifier,
        SigmaRegularExpressionDotAllFlagModifier,
        SigmaCIDRModifier,
        SigmaGreaterThanModifier,
        SigmaGreaterThanEqualModifier,
        SigmaLessThanModifier,
        SigmaLessThanEqualModifier,
        SigmaNotEqualModifier,
        SigmaNegateModifier,
        SigmaExistsModifier,
        SigmaCaseSensitiveModifier,
        SigmaBase64Modifier,  # a plain re-encoding of the value: still a string
    }
)

def compile_rule(rule: SigmaRule) -> Predicate:
    """The predicate of ``rule``'s detection; ``CompileError`` or a ``SigmaError`` if not."""
    check_modifiers(rule)
    nodes = [_node(cond.parsed) for cond in rule.detection.parsed_condition]
    return _any(nodes)[0]  # several conditions in one rule are alternatives


#: A value a field must have for a rule to match at all: (field, lowercased values).
Requirement = tuple[str, frozenset[str]]


def requirement(rule: SigmaRule) -> Requirement | None:
    """An exact-value test every match of ``rule`` must pass, if its condition has one.

    ``event.action: view`` at the top of a rule (alone, or and-ed with other tests) lets
    the engine skip the rule for every event whose action is something else without
    calling its predicate: most HIS rules are about one or two actions.
    """
    conds = rule.detection.parsed_condition
    return _requirement(conds[0].parsed) if len(conds) == 1 else None


def _requirement(cond: object) -> Requirement | None:
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return (cond.field, frozenset({literal(cond.value).lower()})) if is_plain(
            cond.value) else None
    if isinstance(cond, ConditionAND):
        found = [r for r in map(_requirement, cond.args) if r is not None]
        return min(found, key=lambda r: len(r[1])) if found else None
    if isinstance(cond, ConditionOR):
        parts = [_requirement(a) for a in cond.args]
        if not parts or any(p is None for p in parts):
            return None
        fields = {p[0] for p in parts if p is not None}
        if len(fields) != 1:
            return None
        return fields.pop(), frozenset().union(*(p[1] for p in parts if p is not None))
    return None


def check_modifiers(rule: SigmaRule) -> None:
    """Refuse a rule that uses a modifier outside ``SUPPORTED_MODIFIERS``, naming it."""
    for detection in rule.detection.detections.values():
        for item in _items(detection):
            for modifier in item.modifiers:
                if modifier not in SUPPORTED_MODIFIERS:
                    name = reverse_modifier_mapping.get(modifier.__name__, modifier.__name__)
                    where = f"field '{item.field}'" if item.field else "a keyword"
                    raise CompileError(f"modifier '{name}' (on {where}) is not supported")


def _items(detection: SigmaDetection) -> Iterable[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item)
        else:
            yield item


# -- condition tree ------------------------------------------------------------------------


def _node(cond: object) -> Node:
    if isinstance(cond, ConditionAND):
        return _all([_node(a) for a in cond.args])
    if isinstance(cond, ConditionOR):
        return _any(_merge_exact(list(cond.args)))
    if isinstance(cond, ConditionNOT):
        inner, cost = _node(cond.args[0])
        return (lambda f: not inner(f)), cost
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return field_node(cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        return keyword_node(cond.value)
    if cond is None:  # every detection item was dropped: Sigma treats it as no match
        return (lambda f: False), 0
    if isinstance(cond, ConditionItem):
        raise CompileError(f"condition element {type(cond).__name__} is not supported")
    raise CompileError(f"unexpected condition element {cond!r}")


def _all(nodes: list[Node]) -> Node:
    nodes.sort(key=lambda n: n[1])
    preds = tuple(p for p, _ in nodes)
    cost = sum(c for _, c in nodes)
    if len(preds) == 1:
        return preds[0], cost
    if len(preds) == 2:
        a, b = preds
        return (lambda f: a(f) and b(f)), cost

    def all_of(f: Fields) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop allocates no generator per event
            if not p(f):
                return False
        return True

    return all_of, cost


def _any(nodes: list[Node]) -> Node:
    nodes.sort(key=lambda n: n[1])
    preds = tuple(p for p, _ in nodes)
    cost = sum(c for _, c in nodes)
    if len(preds) == 1:
        return preds[0], cost
    if len(preds) == 2:
        a, b = preds
        return (lambda f: a(f) or b(f)), cost

    def any_of(f: Fields) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop allocates no generator per event
            if p(f):
                return True
        return False

    return any_of, cost


def _merge_exact(args: list[Any]) -> list[Node]:
    """``field: [a, b, c]`` → one set lookup instead of three comparisons."""
    exact: dict[str, set[str]] = {}
    nodes: list[Node] = []
    for arg in args:
        if isinstance(arg, ConditionFieldEqualsValueExpression) and is_plain(arg.value):
            exact.setdefault(arg.field, set()).add(literal(arg.value).lower())
        else:
            nodes.append(_node(arg))
    nodes.extend((field_in(name, frozenset(values)), 2) for name, values in exact.items())
    return nodes


