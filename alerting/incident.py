"""Incidents: alerts on one principal close in time, and what analysts decided about them.

An analyst does not want forty alerts about one nurse's night; they want one case with a
status they can move and a record of who moved it, when and why. An ``Incident`` holds the
alerts that joined it (their latest revision, so counts and severity follow a growing
episode), its status, and an append-only status history.

The id is derived, never drawn: from the organization, the principal, the window start of
the alert that opened the incident and that alert's id. A replay of the same logs, or the
pipeline re-processing alerts after a crash, gives the same ids. (The opening alert's id
is in the hash because two rules often share a window start; without it a new incident
opened after an earlier one was closed could take the closed one's id.)

``detected_at`` is when phiwatch first processed an alert of the incident: the statutory
72-hour notification clock runs from it, so it never moves once set.

Status transitions (``TRANSITIONS``), enforced by ``transition``::

    new             -> investigating, confirmed_leak, false_positive
    investigating   -> confirmed_leak, false_positive
    confirmed_leak  -> reported, investigating
    false_positive  -> closed, investigating
    reported        -> closed
    closed          -> investigating   (reopen: an admin only)

``reported`` only follows ``confirmed_leak`` (only a confirmed leak is notified);
``closed`` is final except for an admin's reopen; a confirmed leak cannot be closed
without being reported first (the law requires the notification). A note is required when
confirming, dismissing, reporting or reopening: the history must say why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from alerting.store import SEVERITY_RANK
from rules.alert import SEVERITIES, Alert
from sensors.errors import PhiwatchError

STATUSES: tuple[str, ...] = (
    "new", "investigating", "confirmed_leak", "false_positive", "reported", "closed",
)
#: Statuses new alerts may still join; a dismissed, reported or closed case stays as decided.
OPEN_STATUSES: frozenset[str] = frozenset({"new", "investigating", "confirmed_leak"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"investigating", "confirmed_leak", "false_positive"}),
    "investigating": frozenset({"confirmed_leak", "false_positive"}),
    "confirmed_leak": frozenset({"reported", "investigating"}),
    "false_positive": frozenset({"closed", "investigating"}),
    "reported": frozenset({"closed"}),
    "closed": frozenset({"investigating"}),
}
#: Roles that may reopen a closed incident.
ADMIN_ROLES: frozenset[str] = frozenset({"admin"})
#: Target statuses whose change must say why.
NOTE_REQUIRED: frozenset[str] = frozenset({"confirmed_leak", "false_positive", "reported"})
SUMMARY_MAX = 300


class IncidentError(PhiwatchError):
    """Base of the incident errors, so a command line can catch them in one place."""


class TransitionError(IncidentError, ValueError):
    """The status change is not allowed (from where it is, or for this actor)."""


class ConflictError(IncidentError):
    """The incident changed since the caller read it (``expected_version`` is stale)."""

    def __init__(
        self, incident_id: str, expected: int | None, current: int | None, why: str = ""
    ) -> None:
        self.incident_id = incident_id
        self.expected = expected
        self.current = current
        if why:
            what = why
        elif expected is None:
            what = "already exists"
        elif current is None:
            what = f"changed (expected version {expected})"
        else:
            what = f"is at version {current}, not {expected}: someone changed it; read it again"
        super().__init__(f"incident {incident_id} {what}")


class IncidentNotFound(IncidentError, LookupError):
    def __init__(self, incident_id: str) -> None:
        self.incident_id = incident_id
        super().__init__(f"no incident {incident_id}")


def incident_id(
    organization_id: str | None, principal: str, window_start: datetime, opening_alert: str
) -> str:
    """Deterministic: the same opening alert of the same principal gives the same id."""
    canonical = orjson.dumps(
        [organization_id, principal, window_start.isoformat(), opening_alert]
    )
    return hashlib.blake2b(canonical, digest_size=16, person=b"phiwatch-inc").hexdigest()


def severity_rank(severity: str) -> int:
    """An unknown severity ranks as medium, as in the alert stores."""
    return SEVERITY_RANK.get(severity, SEVERITY_RANK["medium"])


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of the history; the first one (``from_status`` None) is the creation."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str = ""
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "from": self.from_status,
                "to": self.to_status, "note": self.note, "role": self.role}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StatusChange:
        return cls(datetime.fromisoformat(d["at"]), d["actor"], d.get("from"), d["to"],
                   d.get("note", ""), d.get("role"))


@dataclass(frozen=True, slots=True)
class IncidentAlert:
    """What an incident keeps of each alert: enough for its counts, severity and summary."""

    id: str
    rule_id: str
    rule_title: str
    severity: str
    window_start: datetime
    window_end: datetime
    event_count: int
    revision: int
    explanation: str

    @classmethod
    def of(cls, a: Alert) -> IncidentAlert:
        return cls(a.id, a.rule_id, a.rule_title, a.severity, a.window_start, a.window_end,
                   a.event_count, a.revision, a.explanation)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule_id": self.rule_id, "rule_title": self.rule_title,
                "severity": self.severity, "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(), "event_count": self.event_count,
                "revision": self.revision, "explanation": self.explanation}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IncidentAlert:
        return cls(d["id"], d["rule_id"], d["rule_title"], d["severity"],
                   datetime.fromisoformat(d["window_start"]),
                   datetime.fromisoformat(d["window_end"]), int(d["event_count"]),
                   int(d["revision"]), d["explanation"])


@dataclass(slots=True)
class Incident:
    """One case. ``version`` counts stored writes: 1 after creation, +1 per change."""

    id: str
    organization_id: str | None
    principal: str
    detected_at: datetime
    status: str
    history: list[StatusChange]
    #: The alerts in the order they joined; the first opened the incident.
    alerts: list[IncidentAlert]
    version: int = 0
    # Derived from ``alerts`` (kept as fields so stores can index them).
    first_seen: datetime = field(init=False)
    last_seen: datetime = field(init=False)
    severity: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.alerts:
            raise ValueError("an incident has at least one alert")
        self.first_seen = min(a.window_start for a in self.alerts)
        self.last_seen = max(a.window_end for a in self.alerts)
        self.severity = SEVERITIES[max(severity_rank(a.severity) for a in self.alerts)]

    @classmethod
    def open(cls, alert: Alert, principal: str, detected_at: datetime) -> Incident:
        """A new incident opened by ``alert`` (status ``new``, version 0 until stored)."""
        return cls(
            id=incident_id(alert.organization_id, principal, alert.window_start, alert.id),
            organization_id=alert.organization_id,
            principal=principal,
            detected_at=detected_at,
            status="new",
            history=[StatusChange(detected_at, "phiwatch", None, "new",
                                  f"opened by alert {alert.id} ({alert.rule_id})")],
            alerts=[IncidentAlert.of(alert)],
        )

    @property
    def alert_ids(self) -> list[str]:
        return [a.id for a in self.alerts]

    @property
    def rule_ids(self) -> list[str]:
        return sorted({a.rule_id for a in self.alerts})

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    @property
    def event_count(self) -> int:
        return sum(a.event_count for a in self.alerts)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def summary(self) -> str:
        """One line: how many alerts on whom, and the explanation of the weightiest."""
        top = min(self.alerts, key=lambda a: (-severity_rank(a.severity), a.window_start, a.id))
        rules = self.rule_ids
        head = (f"{len(self.alerts)} alert(s), {len(rules)} rule(s) on {self.principal}: "
                if len(self.alerts) > 1 else "")
        others = [r for r in rules if r != top.rule_id]
        tail = f" (also: {', '.join(others)})" if others else ""
        line = " ".join(f"{head}{top.explanation}{tail}".split())
        return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1] + "…"

    def with_alert(self, alert: Alert) -> Incident | None:
        """This incident with ``alert`` joined or refreshed; None when nothing changes
        (the same alert at the same or an earlier revision: re-emissions are no-ops)."""
        entry = IncidentAlert.of(alert)
        alerts = list(self.alerts)
        for i, known in enumerate(alerts):
            if known.id == alert.id:
                if alert.revision <= known.revision:
                    return None
                alerts[i] = entry
                break
        else:
            alerts.append(entry)
        return replace(self, alerts=alerts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, derived fields included; ``from_dict`` reads it back."""
        return {
            "id": self.id, "organization_id": self.organization_id,
            "principal": self.principal, "detected_at": self.detected_at.isoformat(),
            "status": self.status, "version": self.version,
            "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
            "severity": self.severity, "alert_ids": self.alert_ids, "rule_ids": self.rule_ids,
            "alert_count": len(self.alerts), "event_count": self.event_count,
            "summary": self.summary,
            "history": [h.to_dict() for h in self.history],
            "alerts": [a.to_dict() for a in self.alerts],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Incident:
        return cls(
            id=d["id"], organization_id=d.get("organization_id"), principal=d["principal"],
            detected_at=datetime.fromisoformat(d["detected_at"]), status=d["status"],
            history=[StatusChange.from_dict(h) for h in d["history"]],
            alerts=[IncidentAlert.from_dict(a) for a in d["alerts"]],
            version=int(d.get("version", 0)),
        )


def transition(
    incident: Incident, to: str, actor: str, note: str, at: datetime, role: str | None = None
) -> Incident:
    """``incident`` moved to ``to`` with a history entry, or ``TransitionError`` saying why."""
    if to not in STATUSES:
        raise TransitionError(f"unknown status {to!r}; one of {', '.join(STATUSES)}")
    if not actor.strip():
        raise TransitionError("a status change needs the actor who makes it")
    here = incident.status
    if to == here:
        raise TransitionError(f"incident {incident.id} is already {to}")
    if to not in TRANSITIONS.get(here, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(here, frozenset()))) or "nothing"
        raise TransitionError(f"{here} -> {to} is not allowed (from {here}: {allowed})")
    reopen = here == "closed"
    if reopen and role not in ADMIN_ROLES:
        raise TransitionError("only an admin may reopen a closed incident")
    if (to in NOTE_REQUIRED or reopen) and not note.strip():
        raise TransitionError(f"{here} -> {to} needs a note saying why")
    change = StatusChange(at, actor, here, to, note.strip(), role)
    return replace(incident, status=to, history=[*incident.history, change])
