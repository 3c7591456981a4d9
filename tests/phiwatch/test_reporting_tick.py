"""The run loop's ``tick``: drafts what no request triggered, sends when configured so."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from apikit import make_alert

from alerting.grouping import IncidentGrouper
from alerting.reports.config import ReportsConfig
from alerting.reports.sample import sample_hospital
from alerting.reports.signing import write_key_pair
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.config import Config, load_config
from phiwatch.report_parts import open_report_parts
from phiwatch.reporting import records_of, status_changed, tick

ORG = "tu-du"
NOW = datetime.now(UTC)


def setup(folder: Path) -> tuple[Config, SQLiteAlertStore, dict[str, str]]:
    cfg = load_config(None).model_copy(update={"state_dir": folder / "var"})
    store = SQLiteAlertStore(cfg.sqlite_path)
    ids: dict[str, str] = {}
    for name, n, severity in (("confirmed", 0, "high"), ("critical", 2, "critical"),
                              ("plain", 4, "high")):
        pair = [make_alert(ORG, n, severity=severity), make_alert(ORG, n + 1, severity="low")]
        store.write(pair)
        IncidentGrouper(store).add(pair, NOW - timedelta(hours=2))
        incident = store.incident_of_alert(pair[0].id)
        assert incident is not None
        ids[name] = incident.id
    store.change_status(ids["confirmed"], "confirmed_leak", "cli.user", "xác nhận qua CLI")
    return cfg, store, ids


def parts_for(cfg: Config, **settings: Any) -> Any:
    hospital = sample_hospital().model_copy(update={"id": ORG})
    cfg = cfg.model_copy(update={"reports": ReportsConfig(hospital=hospital, **settings)})
    parts = open_report_parts(cfg)
    assert parts is not None
    if not parts.key_path.exists():
        write_key_pair(parts.key_path.parent, ORG)
    return parts


def states(parts: Any, incident: str) -> list[str]:
    return [r.state for r in records_of(parts, incident)]


def test_tick_drafts_confirmed_leaks_once(tmp_path: Path) -> None:
    cfg, store, ids = setup(tmp_path)
    parts = parts_for(cfg)
    try:
        first = tick(parts, store, NOW)
        assert first.drafted == [ids["confirmed"]] and not first.errors
        assert states(parts, ids["confirmed"]) == ["draft", "draft"]
        assert states(parts, ids["critical"]) == []
        assert tick(parts, store, NOW).drafted == []          # nothing new
        assert store.get_incident(ids["confirmed"]).status == "confirmed_leak"  # type: ignore[union-attr]
    finally:
        parts.close()
        store.close()


def test_critical_incidents_are_drafted_and_with_auto_send_reported(tmp_path: Path) -> None:
    cfg, store, ids = setup(tmp_path)
    parts = parts_for(cfg, draft_critical=True)
    try:
        assert sorted(tick(parts, store, NOW).drafted) == sorted([ids["confirmed"],
                                                                  ids["critical"]])
        assert store.get_incident(ids["critical"]).status == "new"  # type: ignore[union-attr]
    finally:
        parts.close()
    parts = parts_for(cfg, draft_critical=True, auto_send=True)
    try:
        done = tick(parts, store, NOW + timedelta(minutes=5))
        assert sorted(done.issued) == sorted([ids["confirmed"], ids["critical"]])
        for name in ("confirmed", "critical"):
            assert states(parts, ids[name]) == ["issued", "issued"]
            incident = store.get_incident(ids[name])
            assert incident is not None and incident.status == "reported"
        critical = store.get_incident(ids["critical"])
        assert critical is not None and any(
            "reports.auto_send" in c.note for c in critical.history
            if c.to_status == "confirmed_leak")
        numbers = sorted(r.number or 0 for i in ("confirmed", "critical")
                         for r in records_of(parts, ids[i]))
        assert numbers == [1, 2, 3, 4]
        assert states(parts, ids["plain"]) == []
    finally:
        parts.close()
        store.close()


def test_the_trigger_with_auto_send_issues_at_once(tmp_path: Path) -> None:
    cfg, store, ids = setup(tmp_path)
    parts = parts_for(cfg, auto_send=True)
    try:
        incident = store.change_status(ids["plain"], "confirmed_leak", "it", "xác nhận")
        records = status_changed(parts, store, incident, actor="it", now=NOW)
        assert [r.state for r in records] == ["issued", "issued"]
        assert all(r.issued_by == "phiwatch" for r in records)
        assert status_changed(None, store, incident, actor="it", now=NOW) == []
    finally:
        parts.close()
        store.close()
