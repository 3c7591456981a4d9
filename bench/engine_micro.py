"""Micro-benchmark of the rule engine alone: events built in memory, no parsing, no store.

    .venv/bin/python bench/engine_micro.py [--events 300000] [--rules rules/packs/his]
        [--extensions]

Events look like a hospital's HIS access log (about 2,000 staff, mostly record views, some
searches, logins, prints and exports, a few harvesters and password guessers) at 40 events
per second of event time, so the hour-long windows of the bulk-lookup rule are full. Prints
events/s of CPU time for ``Engine.process`` over the shipped HIS rules (plain and correlation
rules); wall-clock rates are printed too but vary with whatever else the machine runs.
``--extensions`` adds a baseline, a temporal_ordered and a realert rule (``EXTENSIONS``) to
show what phiwatch's extensions cost on top of the pack.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rules.engine import Engine
from rules.loader import load_rules
from sensors.event import Event

ACTIONS = (["view"] * 60 + ["search"] * 15 + ["update"] * 10 + ["login"] * 4 + ["logout"] * 4
           + ["print"] * 3 + ["export"] * 1 + ["login_failed"] * 3)
ROLES = ["nurse", "doctor", "midwife", "lab", "pharmacist", "clerk", "it"]
DEPTS = ["san-a", "san-b", "so-sinh", "cap-cuu", "xet-nghiem", "hanh-chinh"]


EXTENSIONS = """
title: bench view
name: bench-view
logsource: {product: his}
detection: {sel: {event.action: view}, condition: sel}
phiwatch:
  baseline:
    metric: distinct patient.id per user.id per 1h
    peers: [user.roles, user.department]
    history: 30d
    min_history: 1h
    floor: 40
---
title: bench failed
name: bench-failed
logsource: {product: his}
detection: {sel: {event.action: login_failed}, condition: sel}
---
title: bench login
name: bench-login
logsource: {product: his}
detection: {sel: {event.action: login}, condition: sel}
---
title: bench guessed then in
name: bench-guess-then-login
correlation:
  type: temporal_ordered
  rules: [bench-failed, bench-login]
  group-by: [user.id]
  timespan: 10m
---
title: bench export
name: bench-export
logsource: {product: his}
detection: {sel: {event.action: export}, condition: sel}
phiwatch: {realert: 1h}
"""


def build_events(n: int, seed: int = 7) -> list[Event]:
    rng = random.Random(seed)
    users = [
        {"user.id": f"nv{i:05d}", "user.name": f"Nhân viên {i}",
         "user.roles": [rng.choice(ROLES)], "user.department": rng.choice(DEPTS),
         "source.ip": f"10.20.{i // 250}.{i % 250 + 1}", "host.name": f"WS-{i:05d}"}
        for i in range(2000)
    ]
    harvesters = users[:3]
    t0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    events = []
    for i in range(n):
        u = rng.choice(harvesters) if rng.random() < 0.02 else rng.choice(users)
        action = "view" if u in harvesters else rng.choice(ACTIONS)
        fields: dict[str, Any] = {
            "event.dataset": "his.access", "event.action": action,
            "event.outcome": "failure" if action == "login_failed" else "success",
            **u, "organization.id": "tu-du", "his.module": "emr",
        }
        if action in ("view", "print", "export", "update"):
            fields["patient.id"] = f"BN2026{rng.randrange(400_000):06d}"
        fields["his.record_count"] = rng.choice((1, 1, 1, 20, 200, 800)) if action in (
            "export", "print", "search") else 1
        ts = t0 + timedelta(seconds=i / 40)
        events.append(Event(ts, fields, f"his-access.log:{i + 1}", f"ev{i:08d}"))
    return events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--rules", type=Path, default=Path(__file__).resolve().parent.parent
                    / "rules" / "packs" / "his")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--extensions", action="store_true",
                    help="add a baseline, a temporal_ordered and a realert rule")
    args = ap.parse_args()
    paths = [args.rules]
    if args.extensions:
        extra = Path(tempfile.mkdtemp(prefix="phiwatch-bench-")) / "extensions.yml"
        extra.write_text(EXTENSIONS, encoding="utf-8")
        paths.append(extra)
    ruleset = load_rules(paths)
    if ruleset.errors:
        for e in ruleset.errors:
            print(e, file=sys.stderr)
    events = build_events(args.events)
    n_plain = sum(d.alerts for d in ruleset.detections)
    print(f"{len(ruleset.detections)} detection rules ({n_plain} alerting alone), "
          f"{len(ruleset.correlations)} correlations; {len(events):,} events")
    best = 0.0
    for _ in range(args.repeat):
        engine = Engine(ruleset)
        process = engine.process
        alerts = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        for ev in events:
            if process(ev):
                alerts += 1
        alerts += len(engine.flush())
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        rate = len(events) / cpu
        best = max(best, rate)
        print(f"  {rate:,.0f} events/s of CPU time ({cpu:.2f} s CPU, {elapsed:.2f} s wall, "
              f"{len(events) / elapsed:,.0f}/s wall), {alerts} alert batches, {engine.stats()}")
    # CPU time, not wall time: on a shared machine other processes steal the core.
    print(f"engine: {best:,.0f} events/s on one core (best of {args.repeat})")


if __name__ == "__main__":
    main()
