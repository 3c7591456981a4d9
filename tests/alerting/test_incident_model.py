"""The incident model alone: the transition table, ids, and what a failed grouping keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from es_testkit import T0, es_config, make_alert

from alerting.elasticsearch import check, setup
from alerting.grouping import IncidentGrouper
from alerting.incident import (
    STATUSES,
    TRANSITIONS,
    Incident,
    TransitionError,
    incident_id,
    transition,
)
from alerting.incident_store import IncidentQuery
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.render.elasticsearch import format_check

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def incident_at(status: str) -> Incident:
    inc = Incident.open(make_alert(1), "nv00001", NOW)
    inc.status = status
    return inc


@pytest.mark.parametrize("here", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_exactly_the_table_s_transitions_are_allowed(here: str, to: str) -> None:
    inc = incident_at(here)
    if to in TRANSITIONS[here]:
        moved = transition(inc, to, "lan", "why", NOW, role="admin")
        assert moved.status == to and moved.history[-1].from_status == here
        assert inc.status == here and len(inc.history) == 1  # the original is untouched
    else:
        with pytest.raises(TransitionError):
            transition(inc, to, "lan", "why", NOW, role="admin")


def test_reported_only_after_a_confirmed_leak_and_closed_is_final() -> None:
    assert [s for s in STATUSES if "reported" in TRANSITIONS[s]] == ["confirmed_leak"]
    assert TRANSITIONS["closed"] == {"investigating"}
    with pytest.raises(TransitionError, match="only an admin"):
        transition(incident_at("closed"), "investigating", "lan", "why", NOW)
    with pytest.raises(TransitionError, match="unknown status"):
        transition(incident_at("new"), "solved", "lan", "", NOW)
    with pytest.raises(TransitionError, match="actor"):
        transition(incident_at("new"), "investigating", " ", "", NOW)


def test_ids_depend_on_what_opened_the_incident_only() -> None:
    a = make_alert(1)
    same = incident_id("tu-du", "nv1", a.window_start, a.id)
    assert same == incident_id("tu-du", "nv1", a.window_start.astimezone(UTC), a.id)
    assert same != incident_id("cho-ray", "nv1", a.window_start, a.id)
    assert same != incident_id("tu-du", "nv2", a.window_start, a.id)
    assert same != incident_id("tu-du", "nv1", a.window_start + timedelta(seconds=1), a.id)
    assert same != incident_id("tu-du", "nv1", a.window_start, make_alert(2).id)
    assert Incident.from_dict(Incident.open(a, "nv1", NOW).to_dict()).to_dict() == \
        Incident.open(a, "nv1", NOW).to_dict()


class Flaky:
    """A store whose writes fail while ``down`` (a cluster away)."""

    def __init__(self, inner: SQLiteAlertStore) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_incident(self, incident: Incident, expected_version: int | None) -> Incident:
        if self.down:
            raise ConnectionError("cluster away")
        return self.inner.save_incident(incident, expected_version)


def test_alerts_a_failed_add_could_not_group_go_first_next_time(tmp_path: Path) -> None:
    inner = SQLiteAlertStore(tmp_path / "a.db")
    try:
        store = Flaky(inner)
        g = IncidentGrouper(store)
        alerts = [make_alert(n, user="nv1", window_start=T0 + timedelta(hours=n))
                  for n in range(4)]
        g.add(alerts[:1], NOW)
        store.down = True
        with pytest.raises(ConnectionError):
            g.add(alerts[1:3], NOW)
        assert g.pending == alerts[1:3]
        store.down = False
        assert g.add(alerts[3:], NOW).extended == 3 and g.pending == []
        (inc,) = inner.query_incidents(IncidentQuery())
        assert inc.alert_ids == [a.id for a in alerts]
    finally:
        inner.close()


def test_es_setup_installs_the_incident_template(osmem_clone: Any, tmp_path: Path) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    assert check(config, state_dir=tmp_path).incident_template == "missing"
    assert setup(config).done["incident_template"] == "installed"
    report = check(config, state_dir=tmp_path)
    assert report.incident_template == "current" and report.ok
    assert "incident template: current" in format_check(report)
    assert setup(config).done["incident_template"] == "unchanged"
