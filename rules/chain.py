"""Correlations of correlations: one rule's alerts as the events of another.

"A bulk patient lookup, then a large upload from the same workstation within 30 minutes"
is a ``temporal_ordered`` correlation whose steps are themselves correlations (Sigma
allows a correlation to reference correlation rules). The referenced correlation is
represented to the referencing one by a *stand-in* detection rule (``stand_in``) that
matches nothing on its own; instead, the engine hands it an *alert event* (``Feeder``)
whenever the referenced correlation's episode opens and every time an event joins it
afterwards, so the referencing rule always sees the episode's latest time and numbers.
For the lookup above that means "the last record opened", not "the moment the threshold
was crossed", which is what "within 30 minutes after" must be measured from.

An alert event carries the fields of the episode's last event (user, addresses, host …)
and the episode's numbers under the rule's name: ``<rule>.event_count``,
``<rule>.value_count``, ``<rule>.value_sum``, so a sentence can say
``{first.phiwatch-his-bulk-patient-lookup.value_count}`` patients and
``{phiwatch-net-large-upload.value_sum}`` bytes. Its id is the episode's (rule, group,
start): a newer alert event of the same episode replaces the older one in the
referencing rule's window rather than counting again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rules.alert import Alert
from rules.model import CorrelationRule, DetectionRule
from rules.state import Adder, Episode
from sensors.event import Event

#: The ``event.dataset`` of a stand-in (no sensor emits it, nothing routes to it: the
#: ``Feeder`` hands its events to the referencing correlation directly).
ALERT_EVENTS = "phiwatch.chain"


def _never(fields: dict[str, Any]) -> bool:
    return False


def stand_in(corr: CorrelationRule) -> DetectionRule:
    """The base rule through which a correlation references ``corr``."""
    return DetectionRule(
        id=corr.id, name=corr.name, path=corr.path, spec=corr.spec,
        datasets=frozenset({ALERT_EVENTS}), predicate=_never, alerts=False,
        digest=corr.digest, source=corr,
    )


class Feeder:
    """Turns one correlation's episodes into alert events for the rules referencing it."""

    def __init__(self, source: CorrelationRule, adders: Sequence[Adder]) -> None:
        self.source = source
        self.adders = tuple(adders)
        rid = source.id
        self._names = (f"{rid}.event_count", f"{rid}.value_count", f"{rid}.value_sum")

    def __call__(self, values: tuple[str, ...], ep: Episode, out: list[Alert]) -> None:
        src = self.source
        fields = dict(ep.last_fields)
        fields.update(zip(src.group_by, values, strict=False))
        count, distinct, total = self._names
        fields["event.dataset"] = ALERT_EVENTS
        fields["phiwatch.alert.rule"] = src.id
        fields[count] = ep.count
        if ep.values is not None:
            fields[distinct] = len(ep.values)
        if src.kind == "value_sum":
            fields[total] = ep.total
        key = "\x1f".join((src.id, *values, repr(ep.first[0])))
        event = Event(datetime.fromtimestamp(ep.last[0], UTC), fields, ep.last[2], key)
        for add in self.adders:
            add(event, out)
