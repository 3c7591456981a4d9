"""The incident use cases (``phiwatch.service``) and their plain-text rendering, on the
SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from es_testkit import T0, make_alert

from alerting.grouping import IncidentGrouper
from alerting.incident import ConflictError, IncidentNotFound, TransitionError
from alerting.incident_store import IncidentQuery
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.render.incidents import (
    format_incident,
    format_incident_list,
    format_status_change,
    format_transitions,
)
from phiwatch.service import change_incident_status, list_incidents, show_incident

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_list_show_and_change_read_plainly(tmp_path: Path) -> None:
    store = SQLiteAlertStore(tmp_path / "a.db")
    try:
        alerts = [make_alert(n, user="nv00007", window_start=T0 + timedelta(hours=n))
                  for n in range(3)]
        IncidentGrouper(store).add(alerts, NOW)
        page = list_incidents(store, IncidentQuery(principal="nv00007"))
        text = format_incident_list(page)
        (inc,) = page.incidents
        assert inc.id in text and "nv00007" in text and "1–1 of 1 incident(s)" in text
        assert format_incident_list(list_incidents(store, IncidentQuery(status="closed"))) \
            == "No incidents (0 match)."
        shown = format_incident(show_incident(store, f" {inc.id} "))
        assert "status:       new (version 3; next: confirmed_leak, false_positive, " \
               "investigating)" in shown
        assert "detected at:  2026-11-22 09:00:00Z" in shown
        assert all(a.id in shown for a in alerts) and "opened as new" in shown
        changed = change_incident_status(store, inc.id, "confirmed_leak", "lan",
                                         "phones copied", expected_version=3)
        assert format_status_change(changed) == (
            f"Incident {inc.id}: new → confirmed_leak by lan (now version 4)")
        assert "new → confirmed_leak — phones copied" in format_incident(changed)
        with pytest.raises(ConflictError):
            change_incident_status(store, inc.id, "reported", "lan", "sent", 3)
        with pytest.raises(TransitionError):
            change_incident_status(store, inc.id, "closed", "lan", "done")
        with pytest.raises(IncidentNotFound, match="no incident nope"):
            show_incident(store, "nope")
        assert "confirmed_leak  -> investigating, reported" in format_transitions()
    finally:
        store.close()
