"""The store contract: SQLite and Elasticsearch answer every query the same way.

Each backend is checked against a plain-Python statement of the contract (``expected``),
and, in one test, against each other. The Elasticsearch backend runs over real HTTP
against an osmem-server clone; without osmem-server those cases skip with the reason.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from es_testkit import T0, es_config, make_alert

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.elasticsearch import query as es_query
from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import SEVERITY_RANK, AlertQuery, AlertStore, WriteResult, alert_user
from rules.alert import Alert

HCM = timezone(timedelta(hours=7))


def dataset() -> list[Alert]:
    """Alerts that make every filter, boundary and tie matter."""
    alerts: list[Alert] = []
    severities = ["informational", "low", "medium", "high", "critical", "weird"]
    for n in range(36):
        alerts.append(make_alert(
            n,
            organization_id=["tu-du", "cho-ray", None][n % 3],
            rule_id=["rule-a", "rule-b", "rule-c", "rule-d"][n % 4],
            user=f"nv{n % 5:05d}",
            severity=severities[n % 6],
            minutes=[5, 60, 600][n % 3],
            revision=n % 2,
        ))
    # Ties on the window start (order falls to the id), microsecond neighbours, a local zone.
    tie = T0 + timedelta(hours=3)
    for k in range(4):
        alerts.append(make_alert(100 + k, window_start=tie, rule_id=f"tie-{k}"))
    alerts.append(make_alert(110, window_start=tie + timedelta(microseconds=1)))
    alerts.append(make_alert(111, window_start=(tie - timedelta(microseconds=1)).astimezone(HCM)))
    # The user only in the context, no user at all, casing and Unicode in the explanation.
    alerts.append(make_alert(120, group={"source.ip": "10.9.9.9"},
                             context={"user.id": "ctx-user", "source.ip": "10.9.9.9"}))
    alerts.append(make_alert(121, group={"host.name": "WS-1"}, context={}))
    alerts.append(make_alert(122, explanation="NGUYỄN THỊ LAN exported 2500 records"))
    alerts.append(make_alert(123, explanation="Straße: 5 GB sent to 203.0.113.9 (ß ss)"))
    alerts.append(make_alert(124, explanation="tab\tand 100% _under_score *star* ?q? \\back"))
    # Every trigram of "abcd", never "abcd": the server's candidates must be confirmed.
    alerts.append(make_alert(125, explanation="abcXbcd has the trigrams, not the text"))
    return alerts


def expected(alerts: list[Alert], q: AlertQuery) -> list[str]:
    """The contract in plain Python: which ids, in which order."""
    def keep(a: Alert) -> bool:
        if q.start is not None and not a.window_end >= q.start:
            return False
        if q.end is not None and not a.window_start < q.end:
            return False
        if q.organization_id is not None and a.organization_id != q.organization_id:
            return False
        if q.rule_id is not None and a.rule_id != q.rule_id:
            return False
        if q.user_id is not None and alert_user(a) != q.user_id:
            return False
        if q.severity is not None and a.severity != q.severity:
            return False
        rank = SEVERITY_RANK.get(a.severity, SEVERITY_RANK["medium"])
        if q.min_severity is not None and rank < SEVERITY_RANK[q.min_severity]:
            return False
        return not q.text or q.text.casefold() in a.explanation.casefold()

    chosen = sorted((a for a in alerts if keep(a)), key=lambda a: a.id)
    chosen.sort(key=lambda a: a.window_start, reverse=True)
    return [a.id for a in chosen][q.offset : q.offset + q.limit]


QUERIES: list[AlertQuery] = [
    AlertQuery(),
    AlertQuery(limit=7),
    AlertQuery(limit=7, offset=7),
    AlertQuery(limit=5, offset=40),
    AlertQuery(offset=1000),
    AlertQuery(start=T0 + timedelta(hours=2)),
    AlertQuery(end=T0 + timedelta(hours=2)),
    AlertQuery(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)),
    # Boundaries: window_end == start is in; window_start == end is out.
    AlertQuery(start=T0 + timedelta(minutes=7 * 4 + 600)),
    AlertQuery(end=T0 + timedelta(hours=3)),
    AlertQuery(end=T0 + timedelta(hours=3, microseconds=1)),
    AlertQuery(start=(T0 + timedelta(hours=3)).astimezone(HCM), end=T0 + timedelta(days=1)),
    AlertQuery(organization_id="tu-du"),
    AlertQuery(organization_id="cho-ray", limit=3, offset=2),
    AlertQuery(organization_id="nowhere"),
    AlertQuery(rule_id="rule-b"),
    AlertQuery(rule_id="RULE-B"),
    AlertQuery(user_id="nv00003"),
    AlertQuery(user_id="ctx-user"),
    AlertQuery(severity="critical"),
    AlertQuery(severity="medium"),
    AlertQuery(min_severity="medium"),
    AlertQuery(min_severity="high", organization_id="tu-du"),
    AlertQuery(text="nguyễn thị"),
    AlertQuery(text="NGUYỄN"),
    AlertQuery(text="P99 IS 25"),
    AlertQuery(text="viewed 13"),
    AlertQuery(text="strasse"),
    AlertQuery(text="SS"),
    AlertQuery(text="ß"),
    AlertQuery(text="%"),
    AlertQuery(text="*star*"),
    AlertQuery(text="?q? \\b"),
    AlertQuery(text="\t"),
    AlertQuery(text="abcd"),
    AlertQuery(text="no such words"),
    AlertQuery(text="patients", limit=4, offset=3),
    AlertQuery(text="p99", min_severity="low", start=T0 + timedelta(hours=1), limit=5),
    AlertQuery(rule_id="rule-a", user_id="nv00004", severity="informational"),
]



def test_every_query_gives_the_contracted_ids_in_order(store: AlertStore) -> None:
    alerts = dataset()
    result = store.write(alerts)
    assert (result.inserted, result.updated, result.unchanged) == (len(alerts), 0, 0)
    for q in QUERIES:
        got = [a.id for a in store.query(q)]
        assert got == expected(alerts, q), q
        full = dataclasses.replace(q, limit=10_000, offset=0)
        assert store.count(q) == len(expected(alerts, full)), q


def test_query_gives_back_the_alerts_as_written(store: AlertStore) -> None:
    alerts = dataset()
    store.write(alerts)
    by_id = {a.id: a.to_dict() for a in alerts}
    for a in store.query(AlertQuery(limit=10_000)):
        assert a.to_dict() == by_id[a.id]
    got = store.get(alerts[5].id)
    assert got is not None and got.to_dict() == alerts[5].to_dict()
    assert store.get("0" * 32) is None


def test_pagination_walks_every_alert_once_in_a_stable_order(store: AlertStore) -> None:
    alerts = dataset()
    store.write(alerts)
    whole = [a.id for a in store.query(AlertQuery(limit=10_000))]
    for size in (1, 4, 9):
        paged: list[str] = []
        offset = 0
        while page := store.query(AlertQuery(limit=size, offset=offset)):
            paged.extend(a.id for a in page)
            offset += size
        assert paged == whole
    assert len(set(whole)) == len(alerts)


def test_the_highest_revision_wins_whatever_the_order(store: AlertStore) -> None:
    a0, a1, a2 = (make_alert(1, revision=r) for r in (0, 1, 2))
    assert store.write([a1]) == WriteResult(inserted=1)
    assert store.write([a2]) == WriteResult(updated=1)
    assert store.write([a0, a1]) == WriteResult(unchanged=2)  # earlier: never overwrites
    assert store.write([a2]) == WriteResult(unchanged=1)  # the same again: a no-op
    got = store.get(a0.id)
    assert got is not None and got.revision == 2 and got.explanation == a2.explanation
    assert store.count(AlertQuery()) == 1
    # In one batch, in order: new, then newer, then older.
    b0, b3, b1 = make_alert(2, revision=0), make_alert(2, revision=3), make_alert(2, revision=1)
    assert store.write([b0, b3, b1]) == WriteResult(inserted=1, updated=1, unchanged=1)
    got = store.get(b0.id)
    assert got is not None and got.revision == 3
    assert [a.revision for a in store.query(AlertQuery(text="viewed 125"))] == [3]


@pytest.mark.parametrize("window", [3, 5])
def test_deep_pages_past_the_result_window_agree(
    osmem_clone: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """Offsets beyond ``max_result_window`` walk with search_after (shrunk here)."""
    monkeypatch.setattr(es_query, "MAX_WINDOW", window)
    monkeypatch.setattr(es_query, "PAGE", 4)
    alerts = dataset()
    es = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    try:
        es.write(alerts)
        for q in (AlertQuery(limit=3, offset=4), AlertQuery(limit=10, offset=13),
                  AlertQuery(limit=2, offset=0), AlertQuery(organization_id="tu-du", offset=2),
                  AlertQuery(text="patients", limit=6, offset=5)):
            assert [a.id for a in es.query(q)] == expected(alerts, q), q
    finally:
        es.close()


def test_both_backends_answer_alike(osmem_clone: Any, tmp_path: Path) -> None:
    alerts = dataset()
    lite = SQLiteAlertStore(tmp_path / "alerts.db")
    es = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    try:
        assert lite.write(alerts) == es.write(alerts)
        again = [dataclasses.replace(a, revision=a.revision + 1) for a in alerts[::3]]
        older = [dataclasses.replace(a, revision=0) for a in alerts[1::3]]
        assert lite.write(again + older) == es.write(again + older)
        for q in QUERIES:
            assert [a.to_dict() for a in lite.query(q)] == [a.to_dict() for a in es.query(q)], q
            assert lite.count(q) == es.count(q), q
    finally:
        lite.close()
        es.close()


def test_timestamps_are_compared_at_microsecond_precision() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert es_query.filters(AlertQuery(start=start + timedelta(microseconds=7))) == [
        {"range": {"phiwatch.window.end_us": {"gte": 1767225600000007}}}
    ]
