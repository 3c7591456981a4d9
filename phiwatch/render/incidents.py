"""Incidents on a terminal: plain text, one fact a line, times in UTC ISO so they sort and
paste. ``phiwatch.text.printable`` is applied by the command line when it prints."""

from __future__ import annotations

from datetime import UTC, datetime

from alerting.incident import ADMIN_ROLES, NOTE_REQUIRED, STATUSES, TRANSITIONS, Incident
from phiwatch.service import IncidentPage


def _t(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_incident_list(page: IncidentPage) -> str:
    """One incident a line: id, status, severity, principal, span, alerts, summary."""
    if not page.incidents:
        return f"No incidents ({page.total} match)."
    lines = [f"{'ID':32}  {'STATUS':14}  {'SEVERITY':13}  {'PRINCIPAL':12}  "
             f"{'FIRST SEEN':20}  {'LAST SEEN':20}  {'ALERTS':>6}  SUMMARY"]
    for i in page.incidents:
        summary = i.summary if len(i.summary) <= 80 else i.summary[:79] + "…"
        lines.append(f"{i.id:32}  {i.status:14}  {i.severity:13}  {i.principal:12}  "
                     f"{_t(i.first_seen):20}  {_t(i.last_seen):20}  {len(i.alerts):>6}  "
                     f"{summary}")
    q = page.query
    shown = f"{q.offset + 1}–{q.offset + len(page.incidents)}"
    lines.append(f"{shown} of {page.total} incident(s)")
    return "\n".join(lines)


def format_incident(incident: Incident) -> str:
    """The whole incident: facts, alerts, then the status history, oldest first."""
    i = incident
    nxt = ", ".join(sorted(TRANSITIONS.get(i.status, frozenset()))) or "none"
    lines = [
        f"Incident {i.id}",
        f"  status:       {i.status} (version {i.version}; next: {nxt})",
        f"  organization: {i.organization_id or '-'}",
        f"  principal:    {i.principal}",
        f"  severity:     {i.severity}",
        f"  detected at:  {_t(i.detected_at)}",
        f"  first seen:   {_t(i.first_seen)}",
        f"  last seen:    {_t(i.last_seen)}",
        f"  events:       {i.event_count} in {len(i.alerts)} alert(s), "
        f"rules: {', '.join(i.rule_ids)}",
        f"  summary:      {i.summary}",
        "Alerts:",
    ]
    for a in i.alerts:
        lines.append(f"  {a.id}  {_t(a.window_start)} → {_t(a.window_end)}  {a.severity:13}  "
                     f"{a.rule_id} (rev {a.revision})")
        lines.append(f"      {a.explanation}")
    lines.append("History:")
    for h in i.history:
        who = f"{h.actor} ({h.role})" if h.role else h.actor
        move = f"{h.from_status} → {h.to_status}" if h.from_status else f"opened as {h.to_status}"
        lines.append(f"  {_t(h.at)}  {who}: {move}" + (f" — {h.note}" if h.note else ""))
    return "\n".join(lines)


def format_status_change(incident: Incident) -> str:
    last = incident.history[-1]
    return (f"Incident {incident.id}: {last.from_status} → {last.to_status} by {last.actor} "
            f"(now version {incident.version})")


def format_transitions() -> str:
    """The transition table, for ``--help`` and for error messages."""
    lines = [f"  {s:15} -> {', '.join(sorted(TRANSITIONS[s]))}" for s in STATUSES]
    lines.append(f"A note is required for: {', '.join(sorted(NOTE_REQUIRED))}, and to reopen.")
    lines.append(f"Reopening a closed incident needs role: {', '.join(sorted(ADMIN_ROLES))}.")
    return "\n".join(lines)

