"""The console overview's open incidents, counted and sorted by the store, against the walk
the overview did before (every open incident read, bucketed and heaped in Python); and
``GET /stats/incidents`` (``incident_stats``), counted by the store under every filter it
takes, against the walk it did before.

Both backends (Elasticsearch over real HTTP against an osmem-server clone), incidents in
every status, of two hospitals, detected at ages on and around each bucket's edge (to the
microsecond), in the future, and long ago; every caller's scope (all hospitals, one).
A store made before ``detected_us`` existed gets it when opened (SQLite) or prepared
(Elasticsearch).
"""

from __future__ import annotations

import heapq
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from es_testkit import T0, es_config, make_alert

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.elasticsearch.incidents import (
    INCIDENT_MAPPINGS,
    ensure_incident_template,
    incident_index,
    incident_template_name,
    to_incident_document,
)
from alerting.incident import STATUSES, Incident
from alerting.incident_store import IncidentQuery, age_bucket
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.service import (
    AGE_BOUNDS,
    AGE_BUCKETS,
    incident_age_counts,
    incident_stats,
    nearest_deadlines,
    walk_incidents,
)

NOW = datetime(2026, 12, 1, 9, 0, 0, 500_000, tzinfo=UTC)
OPEN = ("new", "investigating", "confirmed_leak")
US = timedelta(microseconds=1)
HOSPITALS = ("tu-du", "cho-ray")



def ages() -> list[timedelta]:
    """On each bound, a microsecond either side, and between: distinct, so the nearest
    deadlines have one order (the old walk and the store differ only on ties)."""
    found = [-timedelta(hours=2), timedelta(0), timedelta(days=400)]
    for bound in AGE_BOUNDS:
        found += [bound - US, bound, bound + US, bound + timedelta(hours=5, seconds=7)]
    found += [timedelta(minutes=13, microseconds=250), timedelta(days=2, microseconds=999)]
    return found


def fill(store: Any) -> list[Incident]:
    """One incident per (age, hospital), their statuses going round all six."""
    made = []
    for n, age in enumerate(ages() * len(HOSPITALS)):
        org = HOSPITALS[n % len(HOSPITALS)]
        alert = make_alert(n, organization_id=org, window_start=T0 + n * timedelta(hours=3))
        # The second hospital's ages 7 µs later: every detection time is distinct.
        incident = Incident.open(alert, f"nv{n:05d}", NOW - age - (n % 2) * 7 * US)
        incident.status = STATUSES[n % len(STATUSES)]
        made.append(store.save_incident(incident, None))
    return made


def old_walk(store: Any, org: str | None, keep: int) -> tuple[dict[str, list[int]],
                                                                list[str]]:
    """What ``api/console/routes/overview.py`` did before the store counted."""
    counts = {s: [0] * len(AGE_BUCKETS) for s in OPEN}
    nearest: list[tuple[float, str, Incident]] = []
    for status in OPEN:
        for incident in walk_incidents(store, IncidentQuery(status=status,
                                                            organization_id=org)):
            age = NOW - incident.detected_at
            bucket = next(i for i, (_, bound) in enumerate(AGE_BUCKETS)
                          if bound is None or age < bound)
            counts[status][bucket] += 1
            item = (-incident.detected_at.timestamp(), incident.id, incident)
            if len(nearest) < keep:
                heapq.heappush(nearest, item)
            elif item > nearest[0]:
                heapq.heapreplace(nearest, item)
    top = [i for _, _, i in sorted(nearest, key=lambda x: (-x[0], x[1]))]
    return counts, [i.id for i in top]


def test_counts_and_nearest_deadlines_are_the_old_walks(store: Any) -> None:
    made = fill(store)
    assert {i.status for i in made} == set(STATUSES)
    for org in (None, *HOSPITALS):
        for keep in (1, 5, 10, 100):
            counts, rows = old_walk(store, org, keep)
            assert incident_age_counts(store, org, OPEN, NOW) == counts, (org, keep)
            top = nearest_deadlines(store, org, OPEN, keep)
            assert [i.id for i in top] == rows, (org, keep)
            assert {i.organization_id for i in top} <= ({org} if org else set(HOSPITALS))
        # Every bucket and status is reached, and the scope splits them.
        assert sum(map(sum, incident_age_counts(store, org, OPEN, NOW).values())) == sum(
            1 for i in made if i.status in OPEN and org in (None, i.organization_id))
    everything = incident_age_counts(store, None, STATUSES, NOW)
    assert all(n > 0 for n in everything["new"])
    want = {s: [0] * len(AGE_BUCKETS) for s in STATUSES}
    for i in made:
        want[i.status][age_bucket(NOW - i.detected_at, AGE_BOUNDS)] += 1
    assert everything == want
    assert incident_age_counts(store, "nhi-dong-1", OPEN, NOW) == {
        s: [0] * len(AGE_BUCKETS) for s in OPEN}
    assert nearest_deadlines(store, "nhi-dong-1", OPEN, 10) == []


def test_incident_statistics_are_the_old_walk_under_every_filter(store: Any) -> None:
    """Hospital, severity and time range (on the incident's first and last seen), each
    alone and together; the statistics count every status, open or not."""
    severities = ("low", "medium", "high", "critical")
    made = []
    for n, age in enumerate(ages() * len(HOSPITALS)):
        alert = make_alert(n, organization_id=HOSPITALS[n % 2], severity=severities[n % 4],
                           window_start=T0 + n * timedelta(hours=3))
        incident = Incident.open(alert, f"nv{n:05d}", NOW - age - (n % 2) * 7 * US)
        incident.status = STATUSES[n % len(STATUSES)]
        made.append(store.save_incident(incident, None))
    middle = T0 + len(made) * timedelta(hours=1)
    ranges = [(None, None), (middle, None), (None, middle),
              (middle, middle + timedelta(hours=20))]
    checked = 0
    for org in (None, *HOSPITALS):
        for severity in (None, "medium", "critical"):
            for start, end in ranges:
                q = IncidentQuery(organization_id=org, min_severity=severity,  # type: ignore[arg-type]
                                  start=start, end=end)
                by_status = dict.fromkeys(STATUSES, 0)
                by_age: dict[tuple[str, str], int] = {}
                for i in walk_incidents(store, q):  # what the route did before
                    by_status[i.status] += 1
                    label = AGE_BUCKETS[age_bucket(NOW - i.detected_at, AGE_BOUNDS)][0]
                    by_age[(i.status, label)] = by_age.get((i.status, label), 0) + 1
                stats = incident_stats(store, q, NOW)
                assert (stats.by_status, stats.by_age) == (by_status, by_age), q
                checked += sum(by_status.values())
    assert checked > len(made)  # the filters kept some and dropped some
    assert incident_stats(store, IncidentQuery(), NOW).by_status == {
        s: sum(1 for i in made if i.status == s) for s in STATUSES}
    with pytest.raises(ValueError, match="text"):
        incident_stats(store, IncidentQuery(text="nv"), NOW)


def test_ties_at_the_cut_keep_the_lowest_ids(store: Any) -> None:
    """Incidents detected together (one batch) sort by id; the first ``limit`` of that
    order are shown (the old heap kept the highest ids of a tie at the cut)."""
    ids = [store.save_incident(Incident.open(make_alert(n), f"nv{n:05d}", NOW), None).id
           for n in range(6)]
    top = nearest_deadlines(store, None, OPEN, 3)
    assert [i.id for i in top] == sorted(ids)[:3]


def test_a_sqlite_file_from_before_detected_us_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    store = SQLiteAlertStore(path)
    made = fill(store)
    store.close()
    db = sqlite3.connect(path)  # as a file written before the column was
    db.execute("DROP INDEX incidents_detected")
    db.execute("ALTER TABLE incidents DROP COLUMN detected_us")
    db.commit()
    db.close()
    store = SQLiteAlertStore(path)
    try:
        counts, rows = old_walk(store, None, 10)
        assert incident_age_counts(store, None, OPEN, NOW) == counts
        assert [i.id for i in nearest_deadlines(store, None, OPEN, 10)] == rows
        assert len(made) == store.count_incidents(IncidentQuery())
    finally:
        store.close()


def test_elasticsearch_indices_from_before_detected_us_get_it(
        osmem_clone: Any, tmp_path: Path) -> None:
    store = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    try:
        client, config = store.client, store.config
        older = {**INCIDENT_MAPPINGS, "properties": {**INCIDENT_MAPPINGS["properties"]}}
        phi = older["properties"]["phiwatch"]["properties"]
        inc = {**phi["incident"]["properties"]}
        del inc["detected_us"]
        older["properties"]["phiwatch"] = {"properties": {**phi, "incident": {
            "properties": inc}}}
        made = []
        for n, age in enumerate(ages()[:8]):
            incident = Incident.open(make_alert(n, organization_id=HOSPITALS[n % 2]),
                                     f"nv{n:05d}", NOW - age)
            index = incident_index(config, incident.organization_id)
            if not client.indices.exists(index=index):
                client.indices.create(index=index, mappings=older)
            doc = orjson.loads(orjson.dumps(to_incident_document(incident)))
            del doc["phiwatch"]["incident"]["detected_us"]
            client.index(index=index, id=incident.id, document=doc, refresh=True)
            made.append(incident)
        assert sum(map(sum, incident_age_counts(store, None, OPEN, NOW).values())) == 0
        client.indices.put_index_template(
            name=incident_template_name(config), index_patterns=["nothing-*"],
            template={"mappings": older}, _meta={"managed_by": "phiwatch", "hash": "old"})
        assert ensure_incident_template(client, config) == "updated"
        client.indices.refresh(index=f"{config.index_prefix}-incidents-*")
        counts, rows = old_walk(store, None, 5)
        assert sum(map(sum, counts.values())) == len(made)
        assert incident_age_counts(store, None, OPEN, NOW) == counts
        assert [i.id for i in nearest_deadlines(store, None, OPEN, 5)] == rows
        assert ensure_incident_template(client, config) == "unchanged"
    finally:
        store.close()
