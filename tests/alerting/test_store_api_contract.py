"""What the API needs of the stores, on both backends: keyset pages in every sort, counts
per day, alerts by id in bulk, incident filters by rule and words, notes, the audit chain.

Each backend is checked against a plain-Python statement of the contract. Elasticsearch
runs over real HTTP against an osmem-server clone (skipped with the reason without it).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from audit_tamper import tamper
from es_testkit import T0, make_alert
from test_store_contract import dataset, expected

from alerting.audit import AuditEntry, verify_chain
from alerting.grouping import IncidentGrouper
from alerting.incident_store import (
    INCIDENT_SORTS,
    IncidentQuery,
    incident_keyset,
    matches,
    ordered,
)
from alerting.notes import Note
from alerting.store import ALERT_SORTS, AlertQuery, alert_keyset, severity_rank
from rules.alert import Alert

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)



def in_order(alerts: list[Alert], q: AlertQuery) -> list[str]:
    """The contract: ``expected``'s filters, then ``q.sort``, then after ``q.after``."""
    ids = set(expected(alerts, dataclasses.replace(q, limit=10_000, offset=0, after=None,
                                                   sort="newest")))
    chosen = [a for a in alerts if a.id in ids]
    keys = ALERT_SORTS[q.sort]

    def flip(a: Alert) -> tuple[Any, ...]:
        return tuple(-v if desc else v  # type: ignore[operator]
                     for v, (_, desc) in zip(alert_keyset(a, q.sort), keys, strict=True))

    chosen.sort(key=flip)
    if q.after is not None:
        mark = tuple(-v if desc else v  # type: ignore[operator]
                     for v, (_, desc) in zip(q.after, keys, strict=True))
        chosen = [a for a in chosen if flip(a) > mark]
    return [a.id for a in chosen][: q.limit]


@pytest.mark.parametrize("sort", list(ALERT_SORTS))
def test_keyset_pages_walk_every_alert_once_in_each_sort(store: Any, sort: str) -> None:
    alerts = dataset()
    store.write(alerts)
    for base in (AlertQuery(), AlertQuery(organization_id="tu-du"), AlertQuery(text="p99"),
                 AlertQuery(min_severity="medium", start=T0 + H)):
        whole = in_order(alerts, dataclasses.replace(base, sort=sort, limit=10_000))
        assert [a.id for a in store.query(dataclasses.replace(base, sort=sort,
                                                              limit=10_000))] == whole
        for size in (1, 7):
            paged: list[str] = []
            after = None
            while True:
                q = dataclasses.replace(base, sort=sort, limit=size, after=after)
                page = store.query(q)
                assert [a.id for a in page] == in_order(alerts, q), q
                if not page:
                    break
                paged.extend(a.id for a in page)
                after = alert_keyset(page[-1], sort)
            assert paged == whole, (base, size)


def test_keyset_pages_stay_stable_while_new_alerts_arrive(store: Any) -> None:
    alerts = dataset()
    store.write(alerts)
    first = store.query(AlertQuery(limit=10))
    # Newer alerts arrive (they sort before the page already read) and one grows.
    store.write([make_alert(500 + k, window_start=T0 + timedelta(days=3, minutes=k))
                 for k in range(5)])
    store.write([dataclasses.replace(first[3], revision=first[3].revision + 5)])
    rest = store.query(AlertQuery(limit=10_000, after=alert_keyset(first[-1], "newest")))
    whole = expected(alerts, AlertQuery(limit=10_000))
    assert [a.id for a in first] + [a.id for a in rest] == whole


def test_day_counts_per_local_day_hospital_and_rule(store: Any) -> None:
    alerts = dataset()
    # Around local midnight in Ho Chi Minh City (UTC+7): 16:59:59.999999 and 17:00 UTC.
    edge = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    alerts += [make_alert(600, window_start=edge - timedelta(microseconds=1), rule_id="edge"),
               make_alert(601, window_start=edge, rule_id="edge")]
    store.write(alerts)
    zone = "Asia/Ho_Chi_Minh"
    for q in (AlertQuery(), AlertQuery(organization_id="cho-ray"),
              AlertQuery(min_severity="high"), AlertQuery(text="p99 is 25")):
        want: dict[tuple[Any, ...], int] = {}
        for a in alerts:
            if a.id in set(expected(alerts, dataclasses.replace(q, limit=10_000))):
                key = (a.window_start.astimezone(ZoneInfo(zone)).date(), a.organization_id,
                       a.rule_id)
                want[key] = want.get(key, 0) + 1
        got = {(c.day, c.organization_id, c.rule_id): c.count
               for c in store.day_counts(q, zone)}
        assert got == want, q
    edge_days = {c.day for c in store.day_counts(AlertQuery(rule_id="edge"), zone)}
    assert [d.isoformat() for d in sorted(edge_days)] == ["2026-11-22", "2026-11-23"]


def test_get_many_gives_the_stored_alerts_by_id(store: Any) -> None:
    alerts = dataset()
    store.write(alerts)
    store.write([dataclasses.replace(alerts[2], revision=9)])
    ids = [alerts[0].id, alerts[2].id, alerts[2].id, "0" * 32]
    got = store.get_many(ids)
    assert set(got) == {alerts[0].id, alerts[2].id}
    assert got[alerts[2].id].revision == 9
    assert got[alerts[0].id].to_dict() == alerts[0].to_dict()
    assert store.get_many([]) == {}


def test_incident_filters_and_keyset_pages_follow_the_contract(store: Any) -> None:
    alerts = [make_alert(n, user=f"nv{n % 4:05d}", window_start=T0 + n * 5 * H, minutes=30,
                         rule_id=["rule-a", "rule-b", "rule-c"][n % 3],
                         severity=["low", "high", "critical", "medium", "weird"][n % 5],
                         organization_id=["tu-du", "cho-ray"][n % 2],
                         explanation=f"case {n}: Nguyễn Thị Lan opened 1{n:02d} records")
              for n in range(24)]
    IncidentGrouper(store).add(alerts, NOW)
    everything = store.query_incidents(IncidentQuery(limit=1000))
    assert len(everything) == 24
    for base in (IncidentQuery(), IncidentQuery(rule_id="rule-b"),
                 IncidentQuery(rule_id="RULE-B"), IncidentQuery(text="NGUYỄN THỊ"),
                 IncidentQuery(text="case 1"), IncidentQuery(text="rule-c"),
                 IncidentQuery(text="%"), IncidentQuery(text="nv00003"),
                 IncidentQuery(text="opened 1", organization_id="tu-du", min_severity="high")):
        for sort in INCIDENT_SORTS:
            q = dataclasses.replace(base, sort=sort, limit=1000)
            want = [i.id for i in ordered([i for i in everything if matches(q)(i)], q)]
            assert [i.id for i in store.query_incidents(q)] == want, q
            assert store.count_incidents(q) == len(want), q
            paged: list[str] = []
            after = None
            while page := store.query_incidents(dataclasses.replace(q, limit=5, after=after)):
                paged.extend(i.id for i in page)
                after = incident_keyset(page[-1], sort)
            assert paged == want, q
    assert severity_rank("weird") == severity_rank("medium")


def test_notes_are_kept_in_order_per_incident(store: Any) -> None:
    first = Note.new("inc-1", "tu-du", "lan", "hospital_it", "note", "đã gọi điện <b>x</b>",
                     at=NOW)
    request = Note.new("inc-1", "tu-du", "thanh-tra-1", "inspector", "evidence_request",
                       "gửi nhật ký", at=NOW + H)
    other = Note.new("inc-2", "cho-ray", "minh", "hospital_it", "note", "khác", at=NOW)
    for n in (request, first, other):
        store.add_note(n)
    assert store.notes_of("inc-1") == [first, request]
    assert store.notes_of("inc-2") == [other]
    assert store.notes_of("none") == []
    with pytest.raises(ValueError):
        Note.new("inc-1", "tu-du", "lan", "hospital_it", "secret", "x")


def entry(n: int) -> AuditEntry:
    return AuditEntry(f"user-{n}", "inspector", None, "GET", "/incidents/{incident_id}",
                      (f"inc-{n}",), 2, f"req-{n}", reason="thanh tra định kỳ")


def test_the_audit_chain_verifies_and_continues(store: Any) -> None:
    for n in range(5):
        record = store.append_audit(entry(n), at=NOW + n * H)
        assert record.seq == n + 1
    verdict = verify_chain(store.audit_stored())
    assert verdict.ok and verdict.records == 5 and verdict.head_seq == 5
    assert [r.seq for r in store.audit_records(after_seq=2, limit=2)] == [3, 4]
    assert verify_chain(store.audit_stored(), anchor=(3, store.audit_records(2, 1)[0].hash)).ok
    assert not verify_chain(store.audit_stored(), anchor=(9, "0" * 64)).ok


@pytest.mark.parametrize("how", ["edit", "remove", "reorder"])
def test_a_tampered_audit_log_names_the_first_bad_record(store: Any, how: str) -> None:
    for n in range(6):
        store.append_audit(entry(n), at=NOW + n * H)
    tamper(store, how)
    verdict = verify_chain(store.audit_stored())
    assert not verdict.ok
    assert verdict.bad_seq == 3, verdict
    assert verdict.problem is not None and "record 3" in verdict.problem
