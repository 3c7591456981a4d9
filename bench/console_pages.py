"""How long the console's pages take with 10,000 incidents in the store.

Fills a store (SQLite, and Elasticsearch over osmem-server when it can start) with
``--incidents`` incidents of three hospitals (one alert each, pseudonymized for the
inspector), serves the API with its console on loopback, signs in as an inspector and
as hospital IT, and reads each page ``--repeat`` times. Prints the median and p95 of the
server's own time (the ``Server-Timing`` header the console sends), per page.

The incident list is the page the issue asks about: first page, a filtered page (status
and words), and the next page by cursor. The overview asks the store for the open
incidents' counts by status and age (one aggregation) and for the nearest deadlines (one
sorted query of ``deadline_rows``); it reads no other incident (before, it walked every
open incident, and grew with their number: 10,000 open here).

The API's ``GET /stats/incidents`` (the same counts, under the caller's filters) is
timed from the client over loopback, and in-process against its peer on the same store:
the walk it did before (every matching incident read and bucketed in Python).

    .venv/bin/python bench/console_pages.py [--incidents 10000] [--repeat 20] [--no-es]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from alerting.grouping import IncidentGrouper
from alerting.incident_store import IncidentQuery, age_bucket
from api.app import create_app
from api.auth import issue_token
from api.server import ApiServer
from phiwatch.config import load_config
from phiwatch.service import (
    AGE_BOUNDS,
    AGE_BUCKETS,
    add_account,
    incident_stats,
    walk_incidents,
)
from rules.alert import Alert, EventRef, alert_id

HOSPITALS = ("tu-du", "cho-ray", "nhi-dong-1")
PASSWORD = "benchmark password 2026"
SECRET = "console-bench-secret-" + "x" * 32
START = datetime(2026, 11, 1, tzinfo=UTC)


def alerts(count: int) -> Iterator[Alert]:
    """One alert per incident: users far apart in time never share an incident."""
    for n in range(count):
        org = HOSPITALS[n % 3]
        user = f"nv{n % 500:05d}"
        start = START + timedelta(hours=6 * (n // 500), minutes=n % 60)
        pid = f"BN{n:010d}"
        ref = EventRef(f"/var/log/his/{org}/access.log:{n + 1}", f"ev{n}", start)
        group = {"user.id": user}
        rule = ("phiwatch-his-bulk-patient-lookup", "phiwatch-his-flagged-patient-no-care")[n % 2]
        yield Alert(
            id=alert_id(rule, group, start, org), rule_id=rule, rule_title="Bulk lookup",
            severity=("medium", "high", "critical")[n % 3], group=group,
            window_start=start, window_end=start + timedelta(minutes=20),
            event_count=20 + n % 50, value_count=None,
            explanation=f"{user} (Nguyễn Thị Lan) opened patient {pid} and {20 + n % 50} "
                        "others in 20 min; own 30-day p99 is 12",
            first_event=ref, last_event=ref, sample=[ref], organization_id=org,
            tags=[], context={"user.id": user, "patient.id": pid}, metrics={},
            revision=1, final=True)


def fill(store: Any, count: int) -> float:
    started = time.perf_counter()
    batch: list[Alert] = []
    grouper = IncidentGrouper(store)
    for a in alerts(count):
        batch.append(a)
        if len(batch) == 1000:
            store.write(batch)
            grouper.add(batch, datetime.now(UTC))
            batch = []
    if batch:
        store.write(batch)
        grouper.add(batch, datetime.now(UTC))
    add_account(store, "thanh", "inspector", None, PASSWORD)
    add_account(store, "lan", "hospital_it", "tu-du", PASSWORD)
    return time.perf_counter() - started


def sign_in(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=120)
    page = c.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    r = c.post("/console/login", data={"username": user, "password": PASSWORD,
                                       "csrf": token.group(1), "next": "/console/"})
    assert r.status_code == 303, r.status_code
    return c


def server_ms(c: httpx.Client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        times.append(float(r.headers["server-timing"].split("dur=")[1]))
    return times


def client_ms(c: httpx.Client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = c.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return times


def line(label: str, times: list[float]) -> None:
    ms = sorted(times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"  {label:<46} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms")


def walked_stats(store: Any, q: IncidentQuery, now: datetime) -> dict[str, int]:
    """The peer: what ``incident_stats`` did before the store counted."""
    by: dict[str, int] = {}
    for incident in walk_incidents(store, q):
        label = AGE_BUCKETS[age_bucket(now - incident.detected_at, AGE_BOUNDS)][0]
        key = f"{incident.status}/{label}"
        by[key] = by.get(key, 0) + 1
    return by


def statistics_against_walk(store: Any, repeat: int) -> None:
    """``incident_stats`` in-process against the old walk, same store, same query; their
    counts must agree."""
    now, q = datetime.now(UTC), IncidentQuery()
    counted, walked = [], []
    for _ in range(max(3, repeat // 4)):
        t = time.perf_counter()
        stats = incident_stats(store, q, now)
        counted.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        old = walked_stats(store, q, now)
        walked.append((time.perf_counter() - t) * 1000)
        assert {f"{s}/{a}": n for (s, a), n in stats.by_age.items()} == old
    a, b = statistics.median(counted), statistics.median(walked)
    print(f"  {'incident statistics, counted by the store':<46} median {a:7.1f} ms")
    print(f"  {'incident statistics, old walk (peer)':<46} median {b:7.1f} ms"
          f"   ratio {b / a:5.1f}x")


def measure(name: str, store_section: dict[str, Any], folder: Path, repeat: int) -> None:
    config_path = folder / "phiwatch.yaml"
    config_path.write_text(yaml.safe_dump({
        "state_dir": str(folder / "state"), "store": store_section,
        "api": {"listen": "127.0.0.1:0"}}), encoding="utf-8")
    config = load_config(config_path)
    app = create_app(config, environ={**os.environ, "PHIWATCH_JWT_SECRET": SECRET})
    server = ApiServer(config, app=app).start()
    try:
        inspector, it = sign_in(server.url, "thanh"), sign_in(server.url, "lan")
        first = inspector.get("/console/incidents").text
        cursor = re.search(r'rel="next" href="([^"]+)"', first)
        assert cursor
        incident = re.search(r'data-id="([0-9a-f]{32})"', first)
        assert incident
        total = re.search(r"([\d.,]+) (?:kết quả|results)", first)
        pages = [
            ("incidents, inspector, first page", inspector, "/console/incidents"),
            ("incidents, inspector, next page", inspector,
             cursor.group(1).replace("&amp;", "&")),
            ("incidents, inspector, status=new + words", inspector,
             "/console/incidents?status=new&words=opened"),
            ("incidents, hospital IT, first page", it, "/console/incidents"),
            ("one incident, inspector", inspector, f"/console/incidents/{incident.group(1)}"),
            ("alerts, inspector, first page", inspector, "/console/alerts"),
            ("overview, inspector", inspector, "/console/"),
        ]
        print(f"\n{name}: {total.group(1) if total else '?'} incidents listed")
        for label, client, path in pages:
            line(label, server_ms(client, path, repeat))
        token = issue_token(config.api.auth, SECRET.encode(), subject="thanh",
                            role="inspector", hospital=None, ttl=timedelta(hours=1))
        with httpx.Client(base_url=server.url,
                          headers={"Authorization": f"Bearer {token}"}) as api:
            line("API /stats/incidents, inspector (client time)",
                 client_ms(api, "/stats/incidents", repeat))
        statistics_against_walk(app.state.phiwatch.store, repeat)
    finally:
        server.stop()


@contextmanager
def osmem() -> Iterator[str | None]:
    try:
        import osmem_server
        server = osmem_server.OsmemServer.start(japanese=False)
    except Exception as e:  # not installed, or cannot start here
        print(f"(Elasticsearch skipped: osmem-server unavailable: {e})")
        yield None
        return
    try:
        yield server.url
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-es", action="store_true", help="SQLite only")
    args = parser.parse_args()
    from alerting.sqlite_store import SQLiteAlertStore

    with tempfile.TemporaryDirectory(prefix="phiwatch-console-bench-") as tmp:
        folder = Path(tmp) / "sqlite"
        folder.mkdir()
        store = SQLiteAlertStore(folder / "alerts.db")
        print(f"SQLite: {args.incidents:,} incidents stored in "
              f"{fill(store, args.incidents):.1f} s")
        store.close()
        measure("SQLite", {"sqlite_path": str(folder / "alerts.db")}, folder, args.repeat)
        if args.no_es:
            return
        with osmem() as url:
            if url is None:
                return
            from alerting.elasticsearch import ElasticsearchAlertStore
            from alerting.elasticsearch.config import ElasticsearchConfig

            folder = Path(tmp) / "es"
            folder.mkdir()
            es = {"hosts": [url], "compat": "opensearch", "refresh": "true",
                  "request_timeout": 60, "spool_dir": str(folder / "spool")}
            es_store = ElasticsearchAlertStore(ElasticsearchConfig(**es), background=False)
            print(f"\nElasticsearch (osmem-server): {args.incidents:,} incidents stored in "
                  f"{fill(es_store, args.incidents):.1f} s")
            es_store.close()
            measure("Elasticsearch (osmem-server)", {"elasticsearch": es}, folder,
                    args.repeat)


if __name__ == "__main__":
    main()
