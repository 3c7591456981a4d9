"""The 72-hour clock on event time: a replay detects a harvest when the live run would have
and warns hospital IT at 48 h and 70 h of *event* time while nothing was sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from runkit import BASE, his_line

from alerting.incident import transition
from alerting.incident_store import IncidentQuery
from alerting.reports.config import ReportsConfig
from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import Config, SourceConfig, load_config
from phiwatch.replay import replay
from phiwatch.report_clock import RULE_ID, clock_state, deadline_alerts, due_warnings

HOURS = 80


def write_log(path: Path, hours: float) -> None:
    """A harvest (160 patients in 40 minutes) at the start, then ordinary single views
    every 20 minutes for ``hours`` hours, so event time moves on."""
    lines = [his_line(BASE + timedelta(seconds=15 * k), "nv00066", "view", 500_000 + k)
             for k in range(160)]
    t = BASE + timedelta(hours=1)
    n = 0
    while t < BASE + timedelta(hours=hours):
        lines.append(his_line(t, f"nv{1 + n % 40:05d}", "view", 1 + n % 3000))
        t += timedelta(minutes=20)
        n += 1
    path.write_bytes(b"".join(lines))


def config(folder: Path) -> Config:
    return load_config(None).model_copy(update={
        "state_dir": folder / "var", "organization": load_config(None).organization,
        "sources": [SourceConfig(name="his", paths=[str(folder / "*.log")])],
        "reports": ReportsConfig()})


def warnings(store: SQLiteAlertStore) -> list[tuple[str, str, datetime]]:
    found = store.query(AlertQuery(rule_id=RULE_ID, limit=100))
    return sorted((a.group["phiwatch.deadline.stage"], a.severity, a.window_end)
                  for a in found)


def test_warnings_fire_on_event_time_in_a_replay(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    partial, full = tmp_path / "a-60h.log", tmp_path / "b-80h.log"
    write_log(partial, 60)
    write_log(full, HOURS)
    store = SQLiteAlertStore(cfg.sqlite_path)
    try:
        first = replay(cfg, [partial], store)
        [incident] = store.query_incidents(IncidentQuery(principal="nv00066"))
        # Detected on event time (the harvest's hour), not when this test runs.
        assert BASE < incident.detected_at < BASE + timedelta(hours=2)
        detected = incident.detected_at
        assert first.deadline_warnings == 1
        assert warnings(store) == [("48h", "high", detected + timedelta(hours=48))]

        second = replay(cfg, [full], store)        # the same logs, and 20 hours more
        assert second.deadline_warnings == 1
        assert warnings(store) == [("48h", "high", detected + timedelta(hours=48)),
                                   ("70h", "critical", detected + timedelta(hours=70))]
        again = replay(cfg, [full], store)
        assert again.deadline_warnings == 0       # deterministic ids: never twice
        [warning] = store.query(AlertQuery(rule_id=RULE_ID, severity="critical"))
        assert warning.context["phiwatch.incident.id"] == incident.id
        assert "user.id" not in warning.group and "user.id" not in warning.context
        assert store.incident_of_alert(warning.id) is None   # joins no incident
        assert "no notification has been sent" in warning.explanation
    finally:
        store.close()


def test_a_reported_or_dismissed_incident_is_not_warned(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    write_log(tmp_path / "a.log", 10)
    store = SQLiteAlertStore(cfg.sqlite_path)
    try:
        replay(cfg, [tmp_path / "a.log"], store)
        [incident] = store.query_incidents(IncidentQuery(principal="nv00066"))
        at = incident.detected_at
        assert clock_state(incident, at + timedelta(hours=49))[1] == "warn"
        assert clock_state(incident, at + timedelta(hours=71))[1] == "urgent"
        assert clock_state(incident, at + timedelta(hours=73))[1] == "overdue"
        confirmed = transition(incident, "confirmed_leak", "it", "xác nhận",
                               at + timedelta(hours=1))
        reported = transition(confirmed, "reported", "it", "đã gửi", at + timedelta(hours=20))
        assert clock_state(reported, at + timedelta(hours=100)) == (
            at + timedelta(hours=72), "sent")
        late = transition(confirmed, "reported", "it", "đã gửi", at + timedelta(hours=75))
        assert clock_state(late, at + timedelta(hours=100))[1] == "sent_late"
        dismissed = transition(incident, "false_positive", "it", "nhầm", at)
        assert clock_state(dismissed, at + timedelta(hours=100))[1] == "dismissed"
        assert due_warnings([reported, dismissed], at + timedelta(hours=100)) == []
        assert len(due_warnings([confirmed], at + timedelta(hours=100))) == 2
        # the run loop's call, with the wall clock's "now"
        now = max(at + timedelta(hours=49), datetime.now(UTC))
        raised = deadline_alerts(store, now)
        assert {a.group["phiwatch.incident.id"] for a in raised} == {incident.id}
        assert deadline_alerts(store, now) == []
    finally:
        store.close()


@pytest.mark.parametrize("hours", [47.9])
def test_nothing_before_48_hours(tmp_path: Path, hours: float) -> None:
    cfg = config(tmp_path)
    store = SQLiteAlertStore(cfg.sqlite_path)
    try:
        write_log(tmp_path / "a.log", 10)
        replay(cfg, [tmp_path / "a.log"], store)
        [incident] = store.query_incidents(IncidentQuery(principal="nv00066"))
        assert deadline_alerts(store, incident.detected_at + timedelta(hours=hours)) == []
        assert replace(incident).status == "new"
    finally:
        store.close()
