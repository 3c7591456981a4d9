"""Detection quality: does phiwatch find every injected leak, in more than one hospital,
without burying IT in alerts?

For each hospital profile and seed, simulates (once, cached under the temp dir, keyed by
the simulator's source) ``phiwatch simulate --profile P --preset large --days 7`` — the
maternity hospital (about 1,500 staff) and the general hospital (about 650 staff, its own
role, department and shift words), every injected kind of ``simulator``, and a day's
network capture beside each day's log — and replays logs and captures together through
the shipped rule packs, with the profile's context files and network model and what its
IT team would configure (``hospital.yaml``: the shift words' hours and the maternity
departments; nothing about which role or department words mean what).

It prints, per profile and seed, each injected incident kind: found or missed, by which
rules (``phiwatch.groundtruth``: an alert of a rule the kind expects, about the
incident's user — or its address, for network alerts — in its time), the other alerts
on it, and the rules it expects that the packs do not define yet ("missing rule"); then
the false user-days: the days on which a user (for network alerts, an address) has an
alert tied to no injected incident, per 1,000 staff-days, by rule. A summary table ends
it. Target (issue 3): every incident found and at most 1 false user-day per 1,000
staff-days, on three seeds of both profiles; the exit status is 1 until then.

``--signals`` also runs the context enricher over each simulation and prints, per signal
a context rule tests, the user-days of normal traffic that raise it and the injected kinds
that do (a signal normal traffic raises cannot meet the target by itself).

    .venv/bin/python bench/detection_quality.py [--profiles maternity general]
        [--seeds 1 2 3] [--days 7] [--preset large] [--signals]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import yaml  # noqa: E402

from alerting.sqlite_store import SQLiteAlertStore  # noqa: E402
from alerting.store import AlertQuery, alert_user  # noqa: E402
from phiwatch.config import Config  # noqa: E402
from phiwatch.demo import demo_config, simulated_context  # noqa: E402
from phiwatch.groundtruth import about, expected_rules, match_ground_truth  # noqa: E402
from phiwatch.replay import replay  # noqa: E402
from rules.alert import Alert  # noqa: E402
from rules.loader import load_rules  # noqa: E402
from sensors.context import ContextConfig  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "phiwatch-bench-cache"
TARGET_PER_1000 = 1.0


def simulator_digest() -> str:
    """A short hash of the simulator's source, so a changed simulator is simulated again."""
    h = hashlib.sha256()
    src = ROOT / "simulator"
    for p in sorted(src.rglob("*.py")):
        h.update(str(p.relative_to(src)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:10]


def simulated(profile: str, preset: str, days: int, seed: int) -> Path:
    """The folder of one simulation, written once and cached."""
    folder = CACHE / f"quality-{profile}-{preset}-{days}d-seed{seed}-{simulator_digest()}"
    if not (folder / "ground_truth.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"simulating {days} day(s) of the {preset} {profile} hospital, seed {seed}, "
              f"into {folder} …", file=sys.stderr)
        t = time.perf_counter()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "phiwatch"), "simulate", "--profile", profile,
             "--preset", preset, "--days", str(days), "--seed", str(seed),
             "--out", str(folder)],
            check=True, stdout=subprocess.DEVNULL,
        )
        print(f"  simulated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return folder


def hospital_context(folder: Path) -> dict[str, Any]:
    """The ``context:`` section a hospital's IT team would write for ``folder`` after
    ``phiwatch context check``: its context files (``phiwatch.demo.simulated_context``),
    plus from ``hospital.yaml`` what only the hospital knows — the hours of each roster
    shift word, the maternity departments, and the full name of each department code
    (phiwatch classifies a code it does not know by its name). Nothing about roles or
    classes: phiwatch's own vocabulary must understand them."""
    context = simulated_context(folder)
    described = yaml.safe_load((folder / "hospital.yaml").read_text(encoding="utf-8"))
    context["shifts"] = dict(described["shifts"])
    context["maternity_departments"] = list(described["maternity_departments"])
    context["vocabulary"] = {"department_names": {
        code: d["name"] for code, d in described.get("departments", {}).items()}}
    return context


def configure(folder: Path, state: Path) -> Config:
    """The embedded default with the shipped packs on ``folder``'s logs and captures, its
    context and network model; alerts in ``state``."""
    cfg = demo_config(folder)
    return cfg.model_copy(update={
        "state_dir": state,
        "context": ContextConfig.model_validate(hospital_context(folder)),
    })


@dataclass
class KindResult:
    incident: str
    kind: str
    who: str
    status: str  # found, MISSED, missing rule, no expected rule
    by: list[str]
    also: list[str]
    missing: list[str]


@dataclass
class SeedResult:
    profile: str
    seed: int
    staff: int
    days: int
    events: int
    seconds: float
    kinds: list[KindResult]
    #: rule → false user-days it raised
    false_by_rule: dict[str, int]
    false_user_days: int
    #: false user-days on users whose department in the alert is not the roster's
    moved: int = 0
    signals: dict[str, tuple[int, list[str]]] | None = None

    @property
    def found(self) -> int:
        return sum(1 for k in self.kinds if k.status == "found")

    @property
    def per_1000(self) -> float:
        return self.false_user_days / (self.staff * self.days / 1000)

    @property
    def ok(self) -> bool:
        return self.found == len(self.kinds) and self.per_1000 <= TARGET_PER_1000


def all_alerts(store: SQLiteAlertStore) -> list[Alert]:
    alerts: list[Alert] = []
    while len(page := store.query(AlertQuery(limit=10_000, offset=len(alerts)))) > 0:
        alerts += page
    return alerts


def judge(incidents: list[dict[str, Any]], alerts: list[Alert],
          shipped: set[str]) -> list[KindResult]:
    """Each injected incident: found or not, by which rules, what else fired on it."""
    out = []
    for m in match_ground_truth(incidents, alerts):
        inc = m.incident
        expected = expected_rules(inc)
        by = sorted({a.rule_id for a in m.alerts})
        also = sorted({a.rule_id for a in alerts if about(a, inc)} - set(by))
        missing = [r for r in expected if r not in shipped]
        if m.alerts:
            status = "found"
        elif not expected:
            status = "no expected rule"
        elif len(missing) == len(expected):
            status = "missing rule"
        else:
            status = "MISSED"
        who = inc.get("user.id") or f"{inc.get('host.name')} ({inc.get('source.ip')})"
        out.append(KindResult(inc["id"], inc["kind"], str(who), status, by, also, missing))
    return out


def false_user_days(incidents: list[dict[str, Any]], alerts: list[Alert], zone: ZoneInfo,
                    roster: dict[str, str]) -> tuple[int, dict[str, int], int]:
    """Alerts tied to no injected incident, as (user or address, local day) pairs: their
    number, per rule, and how many are on users whose alert names another department
    than the roster (staff who moved or work in two departments)."""
    days: set[tuple[str, str]] = set()
    by_rule: dict[str, set[tuple[str, str]]] = defaultdict(set)
    moved: set[tuple[str, str]] = set()
    for a in alerts:
        if any(about(a, inc) for inc in incidents):
            continue
        user = alert_user(a)
        who = str(user) if user else f"address {a.context.get('source.ip') or a.group}"
        key = (who, a.window_start.astimezone(zone).date().isoformat())
        days.add(key)
        by_rule[a.rule_id].add(key)
        dept = a.context.get("user.department")
        if user and dept and dept != roster.get(str(user)):
            moved.add(key)
    return len(days), {r: len(v) for r, v in by_rule.items()}, len(moved)


def run_seed(profile: str, preset: str, days: int, seed: int, work: Path,
             with_signals: bool) -> SeedResult:
    folder = simulated(profile, preset, days, seed)
    truth = orjson.loads((folder / "ground_truth.json").read_bytes())
    incidents: list[dict[str, Any]] = truth["incidents"]
    with open(folder / "roster.csv", encoding="utf-8", newline="") as f:
        roster = {row["user_id"]: row["department"] for row in csv.DictReader(f)}
    cfg = configure(folder, work / f"{profile}-seed{seed}")
    ruleset = load_rules(cfg.rules.paths)
    shipped = {r.name or r.id for r in ruleset.rules} | {r.id for r in ruleset.rules} \
        | {c.name or c.id for c in ruleset.correlations} | {c.id for c in ruleset.correlations}
    logs = sorted((folder / "his").glob("*.log")) + sorted((folder / "net").glob("*.pcap"))
    store = SQLiteAlertStore(cfg.sqlite_path)
    t = time.perf_counter()
    report = replay(cfg, logs, store)
    seconds = time.perf_counter() - t
    alerts = all_alerts(store)
    store.close()
    kinds = judge(incidents, alerts, shipped)
    n, per_rule, moved = false_user_days(incidents, alerts, ZoneInfo(truth["timezone"]),
                                         roster)
    checked = signals(folder, incidents, hospital_context(folder)) if with_signals else None
    return SeedResult(profile, seed, len(roster), days, report.events, seconds, kinds,
                      per_rule, n, moved, checked)


def print_result(r: SeedResult) -> None:
    print(f"\n## {r.profile}, seed {r.seed}: {r.staff:,} staff × {r.days} days, "
          f"{r.events:,} events replayed in {r.seconds:.0f} s "
          f"({r.events / max(r.seconds, 1e-9):,.0f} events/s)\n")
    print("| incident | kind | who | result | found by | other alerts on it | missing rule |")
    print("|---|---|---|---|---|---|---|")
    for k in r.kinds:
        print(f"| {k.incident} | {k.kind} | {k.who} | {k.status} | {', '.join(k.by) or '-'} "
              f"| {', '.join(k.also) or '-'} | {', '.join(k.missing) or '-'} |")
    print(f"\nfound {r.found}/{len(r.kinds)}; false user-days {r.false_user_days} "
          f"= {r.per_1000:.2f} per 1,000 staff-days (target ≤ {TARGET_PER_1000:g})"
          + (f"; {r.moved} of them on staff whose alert names another department than "
             "the roster's" if r.moved else ""))
    for rule, n in sorted(r.false_by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  false user-days: {n:5d}  {rule}")
    missing = sorted({m for k in r.kinds for m in k.missing})
    if missing:
        print("missing rule(s), not in the packs yet: " + ", ".join(missing))
    if r.signals is not None:
        print("\nSignals of the context enricher (what the context rules test):\n")
        print("| signal | normal user-days | per 1,000 staff-days | injected kinds raising it |")
        print("|---|---|---|---|")
        for name, (n, kinds) in r.signals.items():
            print(f"| {name} | {n} | {n / (r.staff * r.days / 1000):.2f} | "
                  f"{', '.join(kinds) or '-'} |")


def print_summary(results: list[SeedResult]) -> None:
    print("\n| profile | seed | staff | incidents found | missed kinds | false user-days | "
          "per 1,000 staff-days | events/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        missed = [k.kind + ("" if k.status == "MISSED" else f" ({k.status})")
                  for k in r.kinds if k.status != "found"]
        print(f"| {r.profile} | {r.seed} | {r.staff} | {r.found}/{len(r.kinds)} | "
              f"{', '.join(missed) or '-'} | {r.false_user_days} | {r.per_1000:.2f} | "
              f"{r.events / max(r.seconds, 1e-9):,.0f} |")


def signals(folder: Path, incidents: list[dict[str, Any]],
            context: dict[str, Any]) -> dict[str, tuple[int, list[str]]] | None:
    """The context enricher's signals over the whole simulation: for each signal a rule
    would test, the user-days of normal traffic that raise it (each a false alert at best)
    and the injected kinds that raise it. ``None`` when the enricher is not importable."""
    try:
        from sensors.context.context import Context
        from sensors.context.enricher import Enricher
        from sensors.parsers.ecs_json import EcsJsonParser
    except ImportError:
        return None
    described = yaml.safe_load((folder / "hospital.yaml").read_text(encoding="utf-8"))
    services = set(described["service_departments"])
    ctx = Context(ContextConfig.model_validate(context))
    ctx.load_all()
    enrich, parser = Enricher(ctx), EcsJsonParser()
    windows: dict[str, list[tuple[float, float, str]]] = {}
    for inc in incidents:
        windows.setdefault(str(inc["user.id"]), []).append(
            (datetime.fromisoformat(inc["start"]).timestamp() - 60,
             datetime.fromisoformat(inc["end"]).timestamp() + 60, inc["kind"]))
    normal: dict[str, set[tuple[str, str]]] = {}
    caught: dict[str, set[str]] = {}
    for path in sorted((folder / "his").glob("*.log")):
        with open(path, "rb") as fh:
            for n, line in enumerate(fh):
                for e in parser.parse(line, f"{path.name}:{n}"):
                    enrich.enrich(e)
                    f = e.fields
                    raised = [name for name, on in (
                        ("terminated account", f.get("phiwatch.user.terminated")),
                        ("off shift", f.get("phiwatch.user.off_shift")),
                        ("flagged patient, no care relationship, not a service",
                         f.get("phiwatch.patient.flagged")
                         and f.get("phiwatch.care_relationship") is False
                         and f.get("user.department") not in services),
                        ("vendor opens a registration record",
                         f.get("phiwatch.user.vendor") and f.get("his.module") == "reception"),
                        ("address outside the hospital", f.get("phiwatch.source.internal")
                         is False),
                    ) if on]
                    if not raised:
                        continue
                    user = str(f.get("user.id"))
                    kind = next((k for a, b, k in windows.get(user, ()) if a <= e.epoch <= b),
                                None)
                    for name in raised:
                        if kind:
                            caught.setdefault(name, set()).add(kind)
                        else:
                            normal.setdefault(name, set()).add(
                                (user, e.timestamp.date().isoformat()))
    return {name: (len(normal.get(name, ())), sorted(caught.get(name, ())))
            for name in sorted(set(normal) | set(caught))}


@dataclass
class Args:
    profiles: list[str] = field(default_factory=lambda: ["maternity", "general"])
    seeds: list[int] = field(default_factory=lambda: [1])
    days: int = 7
    preset: str = "large"
    signals: bool = False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--profiles", nargs="+", choices=("maternity", "general"),
                    default=["maternity", "general"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--preset", choices=("small", "large"), default="large")
    ap.add_argument("--signals", action="store_true",
                    help="also measure the context enricher's signals (slow)")
    args = ap.parse_args(namespace=Args())
    results = []
    with tempfile.TemporaryDirectory(prefix="phiwatch-quality-") as tmp:
        for profile in args.profiles:
            for seed in args.seeds:
                results.append(run_seed(profile, args.preset, args.days, seed, Path(tmp),
                                        args.signals))
                print_result(results[-1])
                sys.stdout.flush()
    print_summary(results)
    ok = all(r.ok for r in results)
    print("\ntarget met" if ok else "\ntarget NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
