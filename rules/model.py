"""The compiled rules the engine runs: what the loader produces from Sigma YAML."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from rules.compiler import Predicate, Requirement
from rules.explain import AlertSpec
from rules.stream import Stream

CorrelationKind = Literal[
    "event_count", "value_count", "value_sum", "temporal", "temporal_ordered"]
ConditionOp = Literal["gte", "gt", "lte", "lt", "eq", "neq"]

#: A temporal condition: which base rules (by index in ``bases``) have matched in the window
#: → whether the condition holds.
Presence = Callable[[frozenset[int]], bool]

#: A correlation condition as a function of (the window's figure, the threshold).
CONDITION_OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt,
    "eq": operator.eq, "neq": operator.ne,
}


@dataclass(eq=False, slots=True)
class DetectionRule:
    """A Sigma rule with a detection, compiled to a predicate over ``Event.fields``."""

    id: str
    name: str | None
    path: str
    spec: AlertSpec
    datasets: frozenset[str]
    predicate: Predicate
    #: Raises an alert per matching event: not referenced by a correlation, or referenced
    #: by one that says ``generate: true``.
    alerts: bool = True
    #: The correlations that count this rule's matches (filled in by the loader).
    correlations: list[CorrelationRule] = field(default_factory=list)
    #: An exact field value every match needs, for the engine's pre-selection.
    requirement: Requirement | None = None
    #: ``phiwatch.realert`` in seconds (0: no suppression) and the fields naming whom.
    realert: float = 0.0
    realert_by: tuple[str, ...] = ("user.id",)
    #: A stream extension (``phiwatch.baseline``, ``.sequence``, ``.beacon`` …,
    #: ``rules.stream``): the rule measures the stream of its matches instead of
    #: alerting per event.
    stream: Stream | None = None
    #: A fingerprint of the rule as written: hot reload keeps state only if it is unchanged.
    digest: str = ""
    #: Set on the stand-in for a correlation that another correlation references: this
    #: "rule" matches that correlation's alerts (``rules.chain``), not events.
    source: CorrelationRule | None = None

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def stateful(self) -> bool:
        """Whether the rule measures a stream rather than alerting per event."""
        return self.stream is not None


@dataclass(eq=False, slots=True)
class CorrelationRule:
    """A Sigma correlation (counting, summing or temporal) over base rules."""

    id: str
    name: str | None
    path: str
    spec: AlertSpec
    kind: CorrelationKind
    bases: tuple[DetectionRule, ...]
    #: Output names of the group-by fields (aliases where the rule defines them).
    group_by: tuple[str, ...]
    #: Per base rule id: the event field behind each ``group_by`` name.
    group_fields: dict[str, tuple[str, ...]]
    #: Per base rule id: the field counted (``value_count``) or summed (``value_sum``).
    value_fields: dict[str, str | None]
    timespan: float
    op: ConditionOp
    threshold: float
    #: The condition's field as written in the rule (for sentences), if any.
    field_name: str | None = None
    #: ``temporal``/``temporal_ordered``: the condition over the base rules seen in a window.
    presence: Presence | None = None
    #: ``phiwatch.realert`` in seconds (0: no suppression).
    realert: float = 0.0
    #: ``temporal_ordered``: matches each step needs (``phiwatch.ordered_counts``); () = 1.
    min_counts: tuple[int, ...] = ()
    #: A fingerprint of the rule and its base rules as written (see ``DetectionRule``).
    digest: str = ""
    #: Raises alerts of its own: not referenced by another correlation, or referenced by
    #: one that says ``generate: true`` (its alerts still feed the referencing one).
    alerts: bool = True

    @property
    def title(self) -> str:
        return self.spec.title
