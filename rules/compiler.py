"""Sigma detections compiled into Python predicates over ``Event.fields``.

The engine calls a rule's predicate on every event of its dataset, so everything that can
be decided once is decided here: patterns are lowercased, wildcards classified (exact,
prefix, suffix, substring, or a compiled regex), CIDR networks turned into integer masks,
several exact values of one field merged into one set lookup, and the cheap tests of an
``and``/``or`` put first. A predicate is a tree of closures that allocates nothing per event
beyond the lowercased copy of a string it has to compare.

Sigma semantics kept here: strings compare case-insensitively unless ``|cased``; a field
holding a list matches if any element does; numbers compare numerically, and a numeric
string in the event counts as a number; a keyword (a value without a field) matches if any
string field of the event contains it; a missing field matches nothing except ``null``,
``exists: false`` and negations.
"""

from __future__ import annotations

import operator
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

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
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
    SpecialChars,
)

Fields = dict[str, Any]
Predicate = Callable[[Fields], bool]
#: A test of one scalar value (a list field is tested element by element).
Test = Callable[[Any], bool]
#: A compiled node and its rough cost, so that ``and``/``or`` try cheap tests first.
Node = tuple[Predicate, int]


class CompileError(Exception):
    """The rule uses something this engine does not evaluate (named in the message)."""


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

_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_MULTI = SpecialChars.WILDCARD_MULTI


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
        return (cond.field, frozenset({_literal(cond.value).lower()})) if _is_plain(
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
        return _field_node(cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        return _keyword_node(cond.value)
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
        if isinstance(arg, ConditionFieldEqualsValueExpression) and _is_plain(arg.value):
            exact.setdefault(arg.field, set()).add(_literal(arg.value).lower())
        else:
            nodes.append(_node(arg))
    nodes.extend((_field_in(name, frozenset(values)), 2) for name, values in exact.items())
    return nodes


def _is_plain(value: SigmaType) -> TypeGuard[SigmaString]:
    return (
        isinstance(value, SigmaString)
        and not isinstance(value, SigmaCasedString)
        and all(isinstance(p, str) for p in value.s)
    )


def _literal(value: SigmaString) -> str:
    return "".join(p for p in value.s if isinstance(p, str))


# -- values --------------------------------------------------------------------------------


def _text(v: Any) -> str | None:
    """A non-string scalar as the text Sigma string patterns compare against."""
    if v.__class__ is str:
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    return None


def _number(v: Any) -> float | None:
    """A number, or a numeric string, as a number; anything else (bool too) as ``None``."""
    cls = v.__class__
    if cls is int or cls is float:
        return v  # type: ignore[no-any-return]
    if cls is str:
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _field_node(name: str, value: SigmaType) -> Node:
    if isinstance(value, SigmaNull):
        return (lambda f: f.get(name) is None), 1
    if isinstance(value, SigmaExists):
        want = bool(value)
        return (lambda f: (f.get(name) is not None) is want), 1
    if _is_plain(value):
        return _field_in(name, frozenset({_literal(value).lower()})), 2
    test, cost = _value_test(value)
    return _field(name, test), cost


def _field(name: str, test: Test) -> Predicate:
    def pred(f: Fields) -> bool:
        v = f.get(name)
        if v is None:
            return False
        if v.__class__ is list:
            for x in v:  # noqa: SIM110 - no generator per event
                if x is not None and test(x):
                    return True
            return False
        return test(v)

    return pred


def _field_in(name: str, lowered: frozenset[str]) -> Predicate:
    def pred(f: Fields) -> bool:
        v = f.get(name)
        if v.__class__ is str:
            return v.lower() in lowered
        if v is None:
            return False
        for x in v if v.__class__ is list else (v,):
            t = _text(x)
            if t is not None and t.lower() in lowered:
                return True
        return False

    return pred


def _value_test(value: SigmaType) -> tuple[Test, int]:
    if isinstance(value, SigmaCasedString):
        return _string_test(value, cased=True)
    if isinstance(value, SigmaString):
        return _string_test(value, cased=False)
    if isinstance(value, SigmaBool):
        word = "true" if bool(value) else "false"
        return (lambda v: v is bool(value) or (v.__class__ is str and v.lower() == word)), 3
    if isinstance(value, SigmaNumber):
        n = value.number
        return (lambda v: _number(v) == n), 3
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value), 3
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value), 6
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value), 6
    raise CompileError(f"value type {type(value).__name__} is not supported")


def _compare_test(value: SigmaCompareExpression) -> Test:
    op = _COMPARE[value.op]
    n = value.number.number

    def test(v: Any) -> bool:
        x = _number(v)
        return x is not None and op(x, n)

    return test


def _regex_test(value: SigmaRegularExpression) -> Test:
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    rx = re.compile(str(value.regexp), flags)
    search = rx.search

    def test(v: Any) -> bool:
        t = _text(v)
        return t is not None and search(t) is not None

    return test


def _cidr_test(value: SigmaCIDRExpression) -> Test:
    net = value.network
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    base = int(net.network_address)
    mask = int(net.netmask)
    pton = socket.inet_pton

    def test(v: Any) -> bool:
        if v.__class__ is not str:
            return False
        try:
            packed = pton(family, v)
        except (OSError, ValueError):
            return False
        return int.from_bytes(packed, "big") & mask == base

    return test


def _string_test(value: SigmaString, *, cased: bool) -> tuple[Test, int]:
    """Exact, prefix, suffix and substring patterns get str methods; the rest a regex."""
    parts = value.s
    if not all(isinstance(p, (str, SpecialChars)) for p in parts):
        raise CompileError(f"placeholder in value '{value.original}' is not supported")
    inner = list(parts)
    lead = bool(inner) and inner[0] is _MULTI
    trail = len(inner) > int(lead) and inner[-1] is _MULTI
    core = inner[int(lead) : len(inner) - int(trail)]
    norm: Callable[[str], str] = (lambda s: s) if cased else str.lower
    if not core and (lead or trail):  # '*' alone: any value at all
        return (lambda v: _text(v) is not None), 1
    if len(core) == 1 and isinstance(core[0], str):
        needle = norm(core[0])
        if lead and trail:
            return _str_test(lambda t: needle in t, norm), 4
        if lead:
            return _str_test(lambda t: t.endswith(needle), norm), 4
        if trail:
            return _str_test(lambda t: t.startswith(needle), norm), 4
        return _str_test(lambda t: t == needle, norm), 2
    pattern = "".join(
        re.escape(p) if isinstance(p, str) else (".*" if p is _MULTI else ".") for p in parts
    )
    rx = re.compile(pattern, re.DOTALL | (0 if cased else re.IGNORECASE))
    fullmatch = rx.fullmatch
    return _str_test(lambda t: fullmatch(t) is not None, lambda s: s), 6


def _str_test(check: Callable[[str], bool], norm: Callable[[str], str]) -> Test:
    def test(v: Any) -> bool:
        t = v if v.__class__ is str else _text(v)
        return t is not None and check(norm(t))

    return test


def _keyword_node(value: SigmaType) -> Node:
    """A field-less value: true if any string field (or list element) contains it."""
    if isinstance(value, SigmaString):
        parts = list(value.s)
        if not parts or parts[0] is not _MULTI:
            parts.insert(0, _MULTI)
        if parts[-1] is not _MULTI:
            parts.append(_MULTI)
        contained = (SigmaCasedString if isinstance(value, SigmaCasedString) else SigmaString)()
        contained.s = parts
        contained.original = value.original
        test, _ = _value_test(contained)
    elif isinstance(value, (SigmaNumber, SigmaBool)):
        text = str(value.number if isinstance(value, SigmaNumber) else value).lower()
        test = _str_test(lambda t: text in t, str.lower)
    elif isinstance(value, SigmaRegularExpression):
        test = _regex_test(value)
    else:
        raise CompileError(f"keyword of type {type(value).__name__} is not supported")

    def pred(f: Fields) -> bool:
        for v in f.values():
            if v.__class__ is str:
                if test(v):
                    return True
            elif v.__class__ is list:
                for x in v:
                    if x.__class__ is str and test(x):
                        return True
        return False

    return pred, 20
