"""Cursor pages over HTTP that stay stable while alerts arrive, cursors that only work for
the query that made them, and hostile filter values matched literally — both backends.

This module writes new alerts, so it has a world of its own (``fresh_world``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from apikit import HOSPITALS, T0, Running, World, make_alert


@pytest.fixture(scope="module")
def api(fresh_world: World) -> Iterator[Running]:
    yield fresh_world.serve()


def walk(client: httpx.Client, path: str, between: Any = None, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        ids.extend(i["id"] for i in body["items"])
        cursor = body["next_cursor"]
        pages += 1
        if between is not None and pages == 2:
            between()
        if cursor is None:
            return ids


@pytest.mark.parametrize("sort", ["newest", "oldest", "severity"])
def test_alert_pages_are_stable_while_new_alerts_arrive(fresh_world: World, api: Running,
                                                        sort: str) -> None:
    client = api.client(api.token("inspector"))
    whole = walk(client, "/alerts", limit=500, sort=sort, hospital="tu-du")
    arrivals = iter(range(1000 + 100 * len(sort), 1100 + 100 * len(sort)))

    def arrive() -> None:  # a newer alert, and one older than everything, at tu-du
        store = fresh_world.open_store()
        try:
            store.write([make_alert("tu-du", next(arrivals),
                                    start=T0 + timedelta(days=30)),
                         make_alert("tu-du", next(arrivals),
                                    start=T0 - timedelta(days=30))])
        finally:
            store.close()

    paged = walk(client, "/alerts", between=arrive, limit=7, sort=sort, hospital="tu-du")
    assert len(paged) == len(set(paged))  # nothing twice
    # Everything that was there is seen once, in the same order; arrivals only where
    # they sort after the page already read.
    assert [i for i in paged if i in set(whole)] == whole
    assert len(paged) - len(whole) <= 2


def test_incident_pages_walk_every_incident_once(api: Running) -> None:
    client = api.client(api.token("department"))
    for sort in ("newest", "oldest", "severity", "active", "detected"):
        whole = walk(client, "/incidents", limit=500, sort=sort)
        assert walk(client, "/incidents", limit=5, sort=sort) == whole
        assert len(whole) >= 12 * len(HOSPITALS)


def test_a_cursor_works_only_for_its_own_query(api: Running) -> None:
    inspector = api.client(api.token("inspector"))
    first = inspector.get("/alerts", params={"limit": 2, "hospital": "tu-du"}).json()
    cursor = first["next_cursor"]
    assert cursor
    for params in ({"hospital": "cho-ray"}, {"hospital": "tu-du", "sort": "oldest"},
                   {"hospital": "tu-du", "words": "x"}, {}):
        r = inspector.get("/alerts", params={**params, "limit": 2, "cursor": cursor})
        assert r.status_code == 422 and r.json()["field"] == "query.cursor", params
    r = inspector.get("/incidents", params={"cursor": cursor})
    assert r.status_code == 422 and r.json()["field"] == "query.cursor"
    # Another caller's scope: hospital IT of the same hospital, same filters.
    it = api.client(api.token("hospital_it", "tu-du"))
    r = it.get("/alerts", params={"limit": 2, "hospital": "tu-du", "cursor": cursor})
    assert r.status_code == 422
    payload, signature = cursor.split(".")
    for forged in (f"{payload}.{signature[:-2]}AA", f"{payload[:-2]}AA.{signature}", "x",
                   "a.b", "." * 5, "é" * 10, cursor + "."):
        r = inspector.get("/alerts", params={"limit": 2, "hospital": "tu-du",
                                             "cursor": forged})
        assert r.status_code == 422 and r.json()["field"] == "query.cursor", forged
    ok = inspector.get("/alerts", params={"limit": 2, "hospital": "tu-du", "cursor": cursor})
    assert ok.status_code == 200


def receive(running: Running, world: World, incident: str, hospital: str = "tu-du") -> None:
    """A report of ``hospital``'s ``incident`` into the inbox, signed with its key."""
    from alerting.reports import sample
    from alerting.reports.drafting import finalize
    from alerting.reports.inbox import Submission, accept
    from alerting.reports.numbering import SQLiteReportNumbers
    from alerting.reports.signing import load_signing_key

    parts = running.server.app.state.phiwatch.reports
    profile = sample.sample_hospital().model_copy(update={"id": hospital})
    facts = sample.sample_facts().model_copy(update={"hospital_id": hospital,
                                                     "incident_id": incident})
    key = load_signing_key(world.keys / f"{hospital}.key.pem", hospital)
    issued = finalize(facts, profile, key=key, issued_at=T0,
                      numbers=SQLiteReportNumbers(world.folder / f"inbox-{hospital}.db"))
    parts.records.add_received(accept(Submission(issued.jws, issued.docx, issued.pdf),
                                      parts.keyring, now=datetime.now(UTC)))


def test_inbox_pages_are_stable_while_reports_arrive(fresh_world: World, api: Running
                                                    ) -> None:
    for n in range(5):
        receive(api, fresh_world, f"paging-{n}", "cho-ray" if n == 2 else "tu-du")
    dept = api.client(api.token("department"))
    whole = walk(dept, "/inbox/reports", limit=500)
    arrivals = iter(range(100))
    paged = walk(dept, "/inbox/reports", limit=2,
                 between=lambda: receive(api, fresh_world, f"late-{next(arrivals)}"))
    assert paged == whole        # the arrival sorts first: the pages after it stay put
    assert len(walk(dept, "/inbox/reports", limit=500)) == len(whole) + 1
    tu_du = walk(dept, "/inbox/reports", limit=1, hospital="tu-du")
    assert len(whole) == 5 and len(tu_du) == 5     # four and the arrival; not cho-ray's
    first = dept.get("/inbox/reports", params={"limit": 2}).json()
    assert first["total"] == len(whole) + 1 and first["next_cursor"]
    for params in ({"hospital": "tu-du"}, {"offset": 1}):
        r = dept.get("/inbox/reports", params={**params, "cursor": first["next_cursor"]})
        assert r.status_code == 422, params
    r = dept.get("/alerts", params={"cursor": first["next_cursor"]})
    assert r.status_code in (403, 422)
    inspector = api.client(api.token("inspector"))   # another role: start again
    assert inspector.get("/inbox/reports", params={
        "cursor": first["next_cursor"]}).status_code == 422


HOSTILE = [
    "*", "?", "tu*", "tu-d?", "tu-du OR 1=1", "' OR '1'='1", "tu-du'; DROP TABLE alerts;--",
    "%", "_", "tu%", "\\", "\\*", "organization.id:*", '{"match_all": {}}', "/.*/",
    "tu~du", "(tu-du)", "tu-du AND cho-ray", "a\"b", "*:*", "+tu -du", "tu‐du",
    "ｔｕ－ｄｕ", "TU-DU", "tu-du\u200b", "\u202etu-du", "tu\u0301-du", "tú-du", "🙂",
    "x" * 200, " tu-du", "tu-du ", "\t", "\n", "é", "ß",
]


def literal(alerts: list[Any], name: str, value: str) -> set[str]:
    if name == "hospital":
        return {a.id for a in alerts if a.organization_id == value}
    if name == "rule":
        return {a.id for a in alerts if a.rule_id == value}
    if name == "user":
        return {a.id for a in alerts if a.context.get("user.id") == value}
    return {a.id for a in alerts if value.casefold() in a.explanation.casefold()}


@pytest.mark.parametrize("name", ["hospital", "rule", "user", "words"])
def test_hostile_filter_values_are_matched_literally(fresh_world: World, api: Running,
                                                     name: str) -> None:
    store = fresh_world.open_store()
    try:
        from phiwatch.service import AlertQuery

        everything = store.query(AlertQuery(limit=10_000))
    finally:
        store.close()
    # Words for hospital IT (real text); the others for an inspector (every hospital).
    token = api.token("hospital_it", "tu-du") if name == "words" else api.token("inspector")
    pool = ([a for a in everything if a.organization_id == "tu-du"] if name == "words"
            else everything)
    client = api.client(token)
    for value in [*HOSTILE, "tu-du", "nv00001", "phiwatch-his-bulk-patient-lookup",
                  "(Nguyễn", "NGUYỄN THỊ"]:
        r = client.get("/alerts", params={name: value, "limit": 500})
        assert r.status_code == 200, (value, r.text)
        got = {a["id"] for a in r.json()["items"]}
        assert got == literal(pool, name, value), value
        assert r.json()["total"] == len(got)
        i = client.get("/incidents", params={name: value, "limit": 500})
        assert i.status_code == 200, (value, i.text)
    assert client.get("/alerts", params={name: "a\x00b"}).status_code == 422
