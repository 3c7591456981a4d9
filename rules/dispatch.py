"""Which rules an event goes to: by its dataset, then by the value of one field.

Most rules test one exact value of one field before anything else (``event.action: view``).
The engine picks, per dataset, the field most rules test that way and indexes the rules by
its lowercased value: an event then meets only the rules that can match it, and a search
or a login costs no call to a rule about record views. The index only ever skips rules
whose predicate would be false, so it changes speed, never results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rules.compiler import Predicate
from rules.explain import AlertSpec
from rules.model import DetectionRule
from rules.state import Adder

#: What the engine does with one rule: its predicate, the spec of its own alert (``None``
#: for a building block), the correlations counting its matches, and the rule (for errors).
Route = tuple[Predicate, AlertSpec | None, tuple[Adder, ...], DetectionRule]


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The routes of one dataset."""

    #: The indexed field, or ``None`` when no rule tests an exact value.
    key: str | None
    #: Lowercased value of ``key`` → the routes that can match an event with that value.
    by_value: dict[str, tuple[Route, ...]]
    #: The routes for any other value, or a missing ``key``.
    default: tuple[Route, ...]
    #: Every route (for a ``key`` holding a list or a number: no shortcut).
    full: tuple[Route, ...]


def build(rules: Sequence[tuple[DetectionRule, Route]]) -> Dispatch:
    """Index ``rules`` (in evaluation order) by the most often required field."""
    full = tuple(route for _, route in rules)
    counts = Counter(r.requirement[0] for r, _ in rules if r.requirement is not None)
    if not counts:
        return Dispatch(None, {}, full, full)
    key = counts.most_common(1)[0][0]

    def needs(rule: DetectionRule) -> frozenset[str] | None:
        req = rule.requirement
        return req[1] if req is not None and req[0] == key else None

    values = sorted({v for r, _ in rules if (vs := needs(r)) is not None for v in vs})
    by_value = {
        v: tuple(route for r, route in rules if (vs := needs(r)) is None or v in vs)
        for v in values
    }
    default = tuple(route for r, route in rules if needs(r) is None)
    return Dispatch(key, by_value, default, full)
