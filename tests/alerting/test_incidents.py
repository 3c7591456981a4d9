"""Incidents against both backends: grouping, replay, status history, optimistic concurrency.

Every test takes ``backend`` and runs on a SQLite file and on Elasticsearch (osmem-server
over real HTTP). ``second`` opens another store on the same data, as a second analyst's
process would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from es_testkit import T0, es_config, make_alert

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.grouping import IncidentGrouper
from alerting.incident import ConflictError, Incident, IncidentNotFound, TransitionError
from alerting.incident_store import IncidentQuery, IncidentStore, matches
from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from rules.alert import Alert

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


class Backend:
    """Opens stores on one backend's data; closes them all at the end."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self.opened: list[Any] = []

    def open(self) -> Any:
        s = self._opener()
        self.opened.append(s)
        return s

    def close(self) -> None:
        for s in self.opened:
            s.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend(lambda: SQLiteAlertStore(tmp_path / "alerts.db"))
    else:
        clone = request.getfixturevalue("osmem_clone")
        config = es_config(clone.url, tmp_path)
        b = Backend(lambda: ElasticsearchAlertStore(config, background=False, read_only=True))
    yield b
    b.close()


def alert(n: int, user: str = "nv00001", at: timedelta = timedelta(0), **kw: Any) -> Alert:
    return make_alert(n, user=user, window_start=T0 + at, minutes=kw.pop("minutes", 30), **kw)


def grouped(store: IncidentStore) -> list[Incident]:
    return store.query_incidents(IncidentQuery(limit=1000))


def by_alerts(store: IncidentStore) -> list[list[str]]:
    return sorted(sorted(i.alert_ids) for i in grouped(store))


# -- grouping ------------------------------------------------------------------------------

def test_alerts_close_in_time_on_one_principal_make_one_incident(backend: Backend) -> None:
    store = backend.open()
    g = IncidentGrouper(store, timedelta(hours=4))
    a = [alert(1), alert(2, at=3 * H, rule_id="rule-2", severity="critical"),
         alert(3, at=7 * H),  # 3.5 h after the previous window ended: joins
         alert(4, at=12 * H),  # 4.5 h after: a new incident
         alert(5, user="nv00002", at=H),  # another principal
         alert(6, at=2 * H, organization_id="cho-ray")]  # same user, another hospital
    result = g.add(a, NOW)
    assert (result.created, result.extended) == (4, 2)
    assert by_alerts(store) == sorted(sorted(x) for x in (
        [a[0].id, a[1].id, a[2].id], [a[3].id], [a[4].id], [a[5].id]))
    first = store.incident_of_alert(a[2].id)
    assert first is not None and first.alert_ids == [a[0].id, a[1].id, a[2].id]
    assert (first.first_seen, first.last_seen) == (T0, T0 + 7.5 * H)
    assert first.severity == "critical" and first.rule_ids == [a[0].rule_id, "rule-2"]
    assert first.detected_at == NOW and first.status == "new" and first.version == 3
    assert first.event_count == sum(x.event_count for x in a[:3])
    assert first.summary.startswith("3 alert(s), 2 rule(s) on nv00001: ")
    assert a[1].explanation in first.summary and len(first.summary.splitlines()) == 1
    assert store.get_incident(first.id) == first
    assert store.get_incident("0" * 32) is None


def test_an_alert_between_two_incidents_joins_the_earlier(backend: Backend) -> None:
    store = backend.open()
    g = IncidentGrouper(store, timedelta(hours=1))
    early, late = alert(1), alert(2, at=3 * H)
    g.add([early, late], NOW)
    bridge = alert(3, at=H + timedelta(minutes=15))  # within 1 h of both
    g.add([bridge], NOW)
    holder = store.incident_of_alert(bridge.id)
    assert holder is not None and holder.alert_ids == [early.id, bridge.id]


def test_re_emitted_revisions_are_idempotent(backend: Backend) -> None:
    store = backend.open()
    g = IncidentGrouper(store)
    r0, r1, r2 = (alert(1, revision=r) for r in (0, 1, 2))
    g.add([r0, alert(2, at=H)], NOW)
    before = grouped(store)
    assert g.add([r0, alert(2, at=H)], NOW).unchanged == 2
    assert grouped(store) == before
    result = g.add([r2, r1], NOW + H)
    assert (result.refreshed, result.unchanged, result.created) == (1, 1, 0)
    (inc,) = grouped(store)
    assert [a.revision for a in inc.alerts] == [2, 0]
    assert inc.event_count == r2.event_count + alert(2, at=H).event_count
    assert inc.detected_at == NOW  # the clock of the first processing never moves


def test_replay_and_restart_give_the_same_incidents(backend: Backend, tmp_path: Path) -> None:
    alerts = [alert(n, user=f"nv{n % 3:05d}", at=n * 50 * timedelta(minutes=1) + n // 10 * 10 * H,
                    rule_id=f"rule-{n % 2}") for n in range(30)]
    store = backend.open()
    IncidentGrouper(store).add(alerts[:17], NOW)
    # A restart: a new grouper, and the pipeline re-processing from its last snapshot.
    again = IncidentGrouper(backend.open())
    assert again.add(alerts[10:], NOW).unchanged == 7
    # A replay into a fresh store, in one batch.
    fresh = SQLiteAlertStore(tmp_path / "replay.db")
    try:
        IncidentGrouper(fresh).add(alerts, NOW)
        replayed = {i.id: i.to_dict() for i in grouped(fresh)}
    finally:
        fresh.close()
    live = {i.id: i.to_dict() for i in grouped(store)}
    assert len(live) > 3 and live.keys() == replayed.keys()
    for k in live:  # versions differ (3 writes vs 1 batch): everything else is equal
        assert {**live[k], "version": 0} == {**replayed[k], "version": 0}


def test_alerts_without_a_principal_join_nothing(backend: Backend) -> None:
    store = backend.open()
    orphan = make_alert(1, group={"host.name": "WS-1"}, context={})
    assert IncidentGrouper(store).add([orphan], NOW).ungrouped == 1
    assert grouped(store) == []


def test_a_decided_incident_takes_no_new_alerts(backend: Backend) -> None:
    store = backend.open()
    g = IncidentGrouper(store)
    first = alert(1)
    g.add([first], NOW)
    (inc,) = grouped(store)
    store.change_status(inc.id, "false_positive", "lan", "night-shift pharmacist", 1)
    # Same window start, another rule: a new incident with its own id, the old one untouched.
    other = alert(2, at=timedelta(0), rule_id="rule-x")
    assert g.add([other], NOW).created == 1
    assert len(grouped(store)) == 2
    new = store.incident_of_alert(other.id)
    assert new is not None and new.id != inc.id and new.status == "new"
    assert store.get_incident(inc.id) == store.incident_of_alert(first.id)


def test_backfill_groups_what_the_alert_store_holds(tmp_path: Path) -> None:
    store = SQLiteAlertStore(tmp_path / "a.db")
    try:
        alerts = [alert(n, at=n * H) for n in range(5)]
        store.write(alerts)
        g = IncidentGrouper(store)
        assert g.backfill(store, AlertQuery(), NOW).created == 1
        assert g.backfill(store, AlertQuery(), NOW).unchanged == 5
        (inc,) = grouped(store)
        assert inc.alert_ids == [a.id for a in alerts]
    finally:
        store.close()


# -- status --------------------------------------------------------------------------------

def test_status_changes_are_checked_and_recorded(backend: Backend) -> None:
    store = backend.open()
    IncidentGrouper(store).add([alert(1)], NOW)
    (inc,) = grouped(store)
    at = NOW + H
    with pytest.raises(TransitionError, match="not allowed"):
        store.change_status(inc.id, "reported", "lan", "sent", 1, at=at)
    with pytest.raises(TransitionError, match="needs a note"):
        store.change_status(inc.id, "confirmed_leak", "lan", "", 1, at=at)
    with pytest.raises(IncidentNotFound):
        store.change_status("f" * 32, "investigating", "lan")
    steps = [("investigating", "lan", ""), ("confirmed_leak", "minh", "exported 300 phones"),
             ("reported", "minh", "BC-12 sent"), ("closed", "lan", "")]
    for n, (to, who, note) in enumerate(steps):
        changed = store.change_status(inc.id, to, who, note, inc.version + n, at=at)
        assert changed.status == to and changed.version == inc.version + n + 1
    with pytest.raises(TransitionError, match="only an admin"):
        store.change_status(inc.id, "investigating", "lan", "new evidence", role="hospital_it")
    reopened = store.change_status(inc.id, "investigating", "root", "new evidence",
                                   role="admin", at=at)
    got = store.get_incident(inc.id)
    assert got == reopened and got is not None
    assert [(h.from_status, h.to_status, h.actor) for h in got.history] == [
        (None, "new", "phiwatch"), ("new", "investigating", "lan"),
        ("investigating", "confirmed_leak", "minh"), ("confirmed_leak", "reported", "minh"),
        ("reported", "closed", "lan"), ("closed", "investigating", "root")]
    assert got.history[2].note == "exported 300 phones" and got.history[2].at == at
    assert got.history[-1].role == "admin"
    assert store.query_incidents(IncidentQuery(status="investigating")) == [got]


# -- concurrency ---------------------------------------------------------------------------

def test_two_analysts_one_wins_the_other_conflicts_nothing_lost(backend: Backend) -> None:
    grouper_store, lan, minh = backend.open(), backend.open(), backend.open()
    IncidentGrouper(grouper_store).add([alert(1)], NOW)
    (seen,) = grouped(lan)
    assert minh.get_incident(seen.id) == seen  # both read version 1
    lan.change_status(seen.id, "investigating", "lan", "looking", seen.version)
    with pytest.raises(ConflictError, match="version 2, not 1"):
        minh.change_status(seen.id, "false_positive", "minh", "known harvester test",
                           seen.version)
    fresh = minh.get_incident(seen.id)
    assert fresh is not None and fresh.status == "investigating"
    minh.change_status(seen.id, "false_positive", "minh", "test account", fresh.version)
    final = lan.get_incident(seen.id)
    assert final is not None and final.version == 3
    assert [h.actor for h in final.history] == ["phiwatch", "lan", "minh"]


def test_racing_threads_exactly_one_wins(backend: Backend) -> None:
    store = backend.open()
    IncidentGrouper(store).add([alert(1)], NOW)
    (inc,) = grouped(store)
    analysts = [backend.open() for _ in range(6)]
    wins: list[str] = []
    conflicts: list[str] = []
    barrier = threading.Barrier(len(analysts))

    def act(k: int) -> None:
        barrier.wait()
        try:
            analysts[k].change_status(inc.id, "investigating", f"a{k}", "", inc.version)
            wins.append(f"a{k}")
        except ConflictError:
            conflicts.append(f"a{k}")

    threads = [threading.Thread(target=act, args=(k,)) for k in range(len(analysts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(conflicts) == len(analysts) - 1
    got = store.get_incident(inc.id)
    assert got is not None and got.version == 2 and got.history[-1].actor == wins[0]


def test_the_grouper_and_an_analyst_lose_nothing_of_each_other(backend: Backend) -> None:
    store, analyst = backend.open(), backend.open()
    g = IncidentGrouper(store)
    g.add([alert(1)], NOW)
    (seen,) = grouped(analyst)
    g.add([alert(2, at=H)], NOW)  # the grouper writes first: the analyst's read is stale
    with pytest.raises(ConflictError):
        analyst.change_status(seen.id, "false_positive", "lan", "nothing", seen.version)
    analyst.change_status(seen.id, "investigating", "lan")  # no expected version: current
    g.add([alert(3, at=2 * H), alert(2, at=H, revision=1)], NOW)  # extends after the change
    got = store.get_incident(seen.id)
    assert got is not None and got.status == "investigating" and len(got.alerts) == 3
    assert got.alerts[1].revision == 1 and got.version == 5


# -- queries -------------------------------------------------------------------------------

def test_incident_queries_follow_the_contract(backend: Backend) -> None:
    store = backend.open()
    alerts = [alert(n, user=f"nv{n % 4:05d}", at=n * 5 * H, severity=["low", "high",
                    "critical", "medium", "weird"][n % 5],
                    organization_id=["tu-du", "cho-ray"][n % 2]) for n in range(24)]
    IncidentGrouper(store).add(alerts, NOW)
    all_ = grouped(store)
    store.change_status(all_[3].id, "investigating", "lan")
    all_ = grouped(store)
    assert len(all_) == 24
    for q in (IncidentQuery(), IncidentQuery(limit=5, offset=5), IncidentQuery(offset=30),
              IncidentQuery(start=T0 + 20 * H), IncidentQuery(end=T0 + 20 * H),
              IncidentQuery(start=T0 + 10.5 * H, end=T0 + 30 * H),  # boundary: end == start
              IncidentQuery(organization_id="cho-ray"), IncidentQuery(organization_id="nowhere"),
              IncidentQuery(principal="nv00002"),
              IncidentQuery(status="investigating"), IncidentQuery(status="new", limit=3),
              IncidentQuery(min_severity="high"),
              IncidentQuery(min_severity="medium", organization_id="tu-du", limit=2, offset=1)):
        chosen = sorted((i for i in all_ if matches(q)(i)), key=lambda i: i.id)
        chosen.sort(key=lambda i: i.first_seen, reverse=True)
        want = [i.id for i in chosen][q.offset: q.offset + q.limit]
        assert [i.id for i in store.query_incidents(q)] == want, q
        assert store.count_incidents(q) == len(chosen), q


def test_elasticsearch_keeps_incidents_in_one_ordinary_index_per_hospital(
    osmem_clone: Any, tmp_path: Path
) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    store = ElasticsearchAlertStore(config, background=False)
    try:
        IncidentGrouper(store).add([alert(1), alert(2, at=H, organization_id="cho-ray")], NOW)
        names = sorted(store.client.indices.get(index="phiwatch-incidents-*").body)
        assert names == ["phiwatch-incidents-cho-ray", "phiwatch-incidents-tu-du"]
        mapping = store.client.indices.get_mapping(index=names[0]).body[names[0]]["mappings"]
        assert mapping["properties"]["phiwatch"]["properties"]["incident"]["properties"][
            "status"]["type"] == "keyword"
        store.write([alert(3)])  # the alert writer's setup installs both templates
        assert store.info is not None
    finally:
        store.close()


def test_elasticsearch_grouping_needs_no_alert_refresh(osmem_clone: Any, tmp_path: Path) -> None:
    """Alerts may be written with ``refresh: false``; incident writes are visible at once,
    so alert after alert extends one incident instead of opening several."""
    config = es_config(osmem_clone.url, tmp_path, refresh="false")
    store = ElasticsearchAlertStore(config, background=False, read_only=True)
    try:
        g = IncidentGrouper(store)
        for n in range(6):
            g.add([alert(n, at=n * H)], NOW)
            g.add([alert(n, at=n * H)], NOW)  # and each re-emitted at once
        (inc,) = grouped(store)
        assert len(inc.alerts) == 6 and inc.version == 6
    finally:
        store.close()
