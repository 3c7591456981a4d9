"""Tests of one field's value against one Sigma value, as closures.

Sigma semantics kept here: strings compare case-insensitively unless ``|cased``; a field
holding a list matches if any element does; numbers compare numerically, and a numeric
string in the event counts as a number; a keyword (a value without a field) matches if any
string field of the event contains it; a missing field matches nothing but ``null`` and
``exists: false``. Everything that can be decided once is decided when the closure is
made: patterns lowercased, wildcards classified (exact, prefix, suffix, substring, or a
compiled regex), CIDR networks turned into integer masks.
"""

from __future__ import annotations

import operator
import re
import socket
from collections.abc import Callable
from typing import Any, TypeGuard

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

from sensors.errors import RuleDefinitionError

Fields = dict[str, Any]
Predicate = Callable[[Fields], bool]
#: A test of one scalar value (a list field is tested element by element).
Test = Callable[[Any], bool]
#: A compiled node and its rough cost, so that ``and``/``or`` try cheap tests first.
Node = tuple[Predicate, int]


class CompileError(RuleDefinitionError):
    """The rule uses something this engine does not evaluate (named in the message)."""


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


def is_plain(value: SigmaType) -> TypeGuard[SigmaString]:
    return (
        isinstance(value, SigmaString)
        and not isinstance(value, SigmaCasedString)
        and all(isinstance(p, str) for p in value.s)
    )


def literal(value: SigmaString) -> str:
    return "".join(p for p in value.s if isinstance(p, str))


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


def field_node(name: str, value: SigmaType) -> Node:
    if isinstance(value, SigmaNull):
        return (lambda f: f.get(name) is None), 1
    if isinstance(value, SigmaExists):
        want = bool(value)
        return (lambda f: (f.get(name) is not None) is want), 1
    if is_plain(value):
        return field_in(name, frozenset({literal(value).lower()})), 2
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


def field_in(name: str, lowered: frozenset[str]) -> Predicate:
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


def keyword_node(value: SigmaType) -> Node:
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
