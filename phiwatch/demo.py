"""``phiwatch demo``: simulate a hospital with injected leaks, replay it, show what was found.

The demo is also the quickest end-to-end check a hospital IT engineer can run: it exits 0
only when every injected incident of the simulation was caught. It ends the way a real
leak ends: a demo analyst confirms the worst incident (the records harvested and then
uploaded), phiwatch drafts the report to the Department and the breach notification,
the analyst approves them, and the documents (DOCX, PDF, signed JSON) are written to a
folder. Nothing is sent: the demo configures no recipient.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import Config, SourceConfig, load_config
from phiwatch.demo_report import write_demo_report
from phiwatch.groundtruth import about, match_ground_truth
from phiwatch.progress import byte_progress
from phiwatch.render.alerts import alert_blocks
from phiwatch.replay import replay
from phiwatch.text import printable
from sensors.context import ContextConfig
from simulator import HospitalSpec, SimulationResult, simulate
from simulator.spec import INCIDENT_KINDS

#: What the demo injects: every HIS kind but the slow harvest, which a baseline can only
#: tell from a week of the user's and their peers' history (``bench/detection_quality.py``
#: measures it over 7 days), and every network kind.
DEMO_KINDS = tuple(k for k in INCIDENT_KINDS if k != "slow_harvest")


def simulate_with_progress(
    out_dir: Path, *, days: int, seed: int, preset: str, start: date | None, console: Console,
    kinds: tuple[str, ...] | None = None,
) -> SimulationResult:
    spec = HospitalSpec.large() if preset == "large" else HospitalSpec.small()
    if kinds is not None:
        spec = spec.model_copy(update={"incident_kinds": kinds})
    with console.status(f"simulating {days} day(s) of a {preset} hospital…"):
        return simulate(spec, out_dir, days=days, seed=seed, start=start)


#: The context files ``phiwatch simulate`` writes, by ``context:`` key.
CONTEXT_FILES = {"roster": "roster.csv", "flagged_patients": "flagged_patients.csv",
                 "encounters": "encounters.csv", "workstations": "workstations.csv",
                 "patients": "patients.csv"}


def simulated_context(folder: Path) -> dict[str, Any]:
    """The ``context:`` section for a folder ``phiwatch simulate`` wrote."""
    wanted: dict[str, Any] = {k: str(folder / v) for k, v in CONTEXT_FILES.items()}
    networks = (folder / "networks.csv").read_text(encoding="utf-8").splitlines()[1:]
    wanted["internal_networks"] = [line.split(",")[0] for line in networks if line]
    # The simulator's staff log out up to 70 minutes after their shift ends (overtime,
    # late notes; its documented bound): a smaller margin turns overtime into alerts.
    wanted["shift_tolerance_minutes"] = 90
    return wanted


def demo_config(folder: Path) -> Config:
    """The embedded default — JSON lines, the shipped rules, a SQLite store in ``folder``
    — on a simulated hospital's logs, with its context files and network model when
    ``folder`` has them."""
    cfg = load_config(None)
    update: dict[str, Any] = {
        "state_dir": folder / "var",
        "sources": [SourceConfig(name="his", paths=[str(folder / "his" / "*.log")])],
    }
    if (folder / "roster.csv").is_file():
        update["context"] = ContextConfig.model_validate(simulated_context(folder))
    network = folder / "net" / "network.yaml"
    if network.is_file():
        update["network"] = load_config(network).network
    return cfg.model_copy(update=update)


def run_demo(folder: Path, *, days: int, seed: int, console: Console,
             reports_dir: Path | None = None) -> int:
    """Simulate, replay and report; 0 when every injected incident was found. The
    report of the worst leak goes to ``reports_dir`` (default ``folder/reports``)."""
    result = simulate_with_progress(folder, days=days, seed=seed, preset="small", start=None,
                                    console=console, kinds=DEMO_KINDS)
    cfg = demo_config(folder)
    logs = sorted((folder / "his").glob("*.log")) + sorted((folder / "net").glob("*.pcap"))
    store = SQLiteAlertStore(cfg.sqlite_path)
    with byte_progress(sum(p.stat().st_size for p in logs), console=console) as tick:
        report = replay(cfg, logs, store, progress=tick)
    found = store.query(AlertQuery(limit=10_000))
    found.sort(key=lambda a: a.window_start)
    console.rule(f"Alerts (times in {cfg.timezone})")
    console.print(alert_blocks(found, cfg.timezone))

    truth = orjson.loads((folder / "ground_truth.json").read_bytes())
    incidents = truth["incidents"] if isinstance(truth, dict) else truth
    matches = match_ground_truth(incidents, found)
    table = Table(title="Injected incidents (ground truth)")
    table.add_column("Incident")
    table.add_column("User or workstation")
    table.add_column("Found by")
    for m in matches:
        rules = ", ".join(sorted({a.rule_title for a in m.alerts}))
        inc = m.incident
        who = inc.get("user.id") or f"{inc.get('host.name')} ({inc.get('source.ip')})"
        table.add_row(Text(inc["kind"]), Text(printable(str(who), one_line=True)),
                      Text(printable(rules), style="green") if m.alerts
                      else Text("MISSED", style="bold red"))
    console.print(table)
    caught = sum(1 for m in matches if m.alerts)
    # An alert about an incident's user during the incident is a true detection even
    # when another rule was expected (a brute force also shows as failed-then-success).
    other = [a for a in found if not any(about(a, m.incident) for m in matches)]
    console.print(
        f"{report.events:,} events replayed from {len(logs)} file(s) of a simulated hospital "
        f"({result.events:,} written); {len(found)} alert(s); "
        f"{caught}/{len(matches)} injected incidents found; "
        f"{len(other)} alert(s) not tied to an injected incident."
    )
    try:
        written = write_demo_report(cfg, store, found, reports_dir or folder / "reports")
    finally:
        store.close()
    if written is not None:
        console.rule("Report to the Department (Sở Y tế) and breach notification")
        console.print(Text(written.summary))
        for path in written.files:
            console.print(Text(f"  {path}"))
    return 0 if caught == len(matches) else 1
