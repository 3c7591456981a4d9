"""Alerts as events: rules over other rules' alerts, whatever kind those rules are.

"Any patient harvest, then any upload from the same workstation within hours" cannot be
written over log events: the harvest is itself a measurement (a bulk lookup, a baseline,
a run of consecutive ids …). So every alert the engine emits is also offered to the rules
whose logsource is ``product: phiwatch, category: alert`` as an *alert event*: a normal
event of dataset ``phiwatch.alert`` carrying the alert's rule, tags, severity, sentence,
figures, and the context it names (user, workstation, destination). A building-block
detection selects alerts by tag (``tags: phiwatch.harvest``) and an ordinary Sigma
correlation orders them, so a hospital that adds a harvest rule of its own tags it and
the chain takes it in. Each ``phiwatch.<tag>`` of the alert also names its sentence,
figure and rule (``phiwatch.harvest.explanation``), so a rule over several kinds of alert
can quote each kind's latest version.

The event's time is the end of the alert's window (its last evidence), its id the alert's
id: a later version of the same alert (its episode grew, or closed) replaces the earlier
one in a correlation's window instead of counting again (``rules.temporal``). Alerts of
rules that read alert events feed them too, up to ``MAX_DEPTH`` levels, so a loop of
rules cannot run away.
"""

from __future__ import annotations

from typing import Any

from rules.alert import Alert
from sensors.event import Event

#: ``event.dataset`` of alert events.
ALERT_DATASET = "phiwatch.alert"
#: Alerts of alerts of alerts … at most this deep.
MAX_DEPTH = 3


def figure(alert: Alert) -> float:
    """The alert's main number: a baseline's figure, a sum, a count of distinct values, a
    run's length, else its number of events."""
    m = alert.metrics
    for name in ("value", "value_sum", "value_count", "run"):
        if name in m:
            return m[name]
    return float(alert.event_count)


def alert_event(alert: Alert) -> Event:
    """The event that stands for ``alert`` in rules over alerts."""
    fields: dict[str, Any] = {}
    fields.update(alert.context)
    fields.update(alert.group)
    fields.update({
        "event.dataset": ALERT_DATASET, "event.kind": "alert",
        "rule.id": alert.rule_id, "rule.name": alert.rule_title, "tags": list(alert.tags),
        "phiwatch.alert.id": alert.id, "phiwatch.alert.severity": alert.severity,
        "phiwatch.alert.explanation": alert.explanation,
        "phiwatch.alert.figure": figure(alert), "phiwatch.alert.event_count": alert.event_count,
        "phiwatch.alert.window_start": alert.window_start.isoformat(),
        "phiwatch.alert.final": alert.final,
    })
    # Under each phiwatch tag too, so a rule over several kinds of alert can name each
    # kind's latest sentence and figure (``{phiwatch.harvest.explanation}``) however the
    # versions of the alerts interleave.
    for tag in alert.tags:
        if tag.startswith("phiwatch."):
            fields[f"{tag}.explanation"] = alert.explanation
            fields[f"{tag}.figure"] = fields["phiwatch.alert.figure"]
            fields[f"{tag}.rule"] = alert.rule_id
    if alert.organization_id is not None:
        fields.setdefault("organization.id", alert.organization_id)
    event = Event(alert.window_end, fields, alert.last_event.ref, alert.id)
    return event
