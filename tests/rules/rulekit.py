"""Helpers for the rule engine tests: write Sigma YAML, build HIS events, run an engine."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from rules.alert import Alert
from rules.compiler import compile_rule
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.event import Event

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
_seq = itertools.count(1)


def sigma_rule(detection: str, logsource: str = "product: his") -> SigmaRule:
    """One Sigma rule from the indented body of its ``detection:`` block."""
    text = (
        "title: test rule\n"
        f"logsource: {{{logsource}}}\n"
        "detection:\n" + textwrap.indent(textwrap.dedent(detection).strip("\n"), "  ") + "\n"
    )
    rule = SigmaCollection.from_yaml(text).rules[0]
    assert isinstance(rule, SigmaRule)
    return rule


def matches(detection: str, fields: dict[str, Any]) -> bool:
    return compile_rule(sigma_rule(detection))(fields)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str, name: str = "rules.yml") -> RuleSet:
    write(folder, name, text)
    return load_rules([folder])


def his(
    seconds: float,
    user: str = "nv01",
    action: str = "view",
    patient: str | None = None,
    **extra: Any,
) -> Event:
    """An HIS access event ``seconds`` after ``T0``; extra fields as ``user_name=...``."""
    n = next(_seq)
    fields: dict[str, Any] = {
        "event.dataset": "his.access",
        "event.action": action,
        "user.id": user,
        "user.name": f"Name of {user}",
        "source.ip": "10.20.3.45",
        "organization.id": "tu-du",
    }
    if patient is not None:
        fields["patient.id"] = patient
    for k, v in extra.items():
        fields[k.replace("__", ".")] = v
    return Event(T0 + timedelta(seconds=seconds), fields, f"his.log:{n}", f"ev{n}")


def run(engine: Engine, events: Iterable[Event]) -> list[Alert]:
    out: list[Alert] = []
    for e in events:
        out.extend(engine.process(e))
    return out


def by_id(alerts: Sequence[Alert]) -> dict[str, list[Alert]]:
    d: dict[str, list[Alert]] = {}
    for a in alerts:
        d.setdefault(a.id, []).append(a)
    return d


EVENT_COUNT = """
title: Record view
name: view
id: 00000000-0000-0000-0000-0000000000a1
logsource: {product: his}
detection:
  sel:
    event.action: view
  condition: sel
---
title: Many views
name: many_views
id: 00000000-0000-0000-0000-0000000000c1
level: high
tags: [attack.collection]
correlation:
  type: event_count
  rules: [view]
  group-by: [user.id]
  timespan: 1m
  condition:
    gte: 3
phiwatch:
  explain: >-
    {user.id} ({user.name}) viewed {event_count} records in {duration};
    threshold {threshold} per {timespan}
  context: [user.name, source.ip]
"""

VALUE_COUNT = """
title: Record opened
name: record
id: 00000000-0000-0000-0000-0000000000a2
logsource: {product: his}
detection:
  sel:
    event.action: [view, print]
    patient.id|exists: true
  condition: sel
---
title: Many patients
name: many_patients
id: 00000000-0000-0000-0000-0000000000c2
correlation:
  type: value_count
  rules: [record]
  group-by: [user.id]
  timespan: 10m
  condition:
    field: patient.id
    gte: 3
"""
