"""The whole pipeline with the Elasticsearch backend, over real HTTP against osmem-server.

Replaying the demo input into Elasticsearch leaves exactly as many alert documents as the
SQLite backend holds alerts, twice over, and `phiwatch alerts` reads the same alerts back.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.timeout(300)


def phiwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phiwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def osmem() -> Iterator[Any]:
    server_mod = pytest.importorskip("osmem_server")
    try:
        server = server_mod.OsmemServer.start(japanese=False)
    except (server_mod.OsmemError, OSError) as e:
        pytest.skip(f"osmem-server cannot start on this machine: {e}")
    yield server
    server.close()


def test_elasticsearch_holds_exactly_the_sqlite_alerts(tmp_path: Path, osmem: Any) -> None:
    sim = phiwatch("simulate", "--out", str(tmp_path), "--days", "1", "--seed", "7", cwd=tmp_path)
    assert sim.returncode == 0, sim.stderr
    logs = sorted(str(p) for p in (tmp_path / "his").glob("*.log"))
    (tmp_path / "sqlite.yaml").write_text("state_dir: sqlite\nsources:\n  - paths: [his/*.log]\n")
    (tmp_path / "es.yaml").write_text(
        "state_dir: es\nsources:\n  - paths: [his/*.log]\n"
        "store:\n  elasticsearch:\n"
        f"    hosts: ['{osmem.url}']\n    compat: opensearch\n    refresh: 'true'\n"
    )
    setup = phiwatch("es", "setup", "--config", "es.yaml", cwd=tmp_path)
    assert setup.returncode == 0, setup.stdout + setup.stderr

    lite = phiwatch("replay", "--no-progress", "--config", "sqlite.yaml", *logs, cwd=tmp_path)
    assert lite.returncode == 0, lite.stderr
    con = sqlite3.connect(tmp_path / "sqlite" / "alerts.db")
    sqlite_ids = {row[0] for row in con.execute("SELECT id FROM alerts")}
    con.close()
    assert len(sqlite_ids) >= 4

    from elasticsearch import Elasticsearch

    from alerting.elasticsearch.config import ElasticsearchConfig
    from alerting.elasticsearch.connection import build_client

    client: Elasticsearch = build_client(ElasticsearchConfig(hosts=[osmem.url],
                                                             compat="opensearch"))
    for _ in range(2):  # a second replay must not add a document
        es = phiwatch("replay", "--no-progress", "--config", "es.yaml", *logs, cwd=tmp_path)
        assert es.returncode == 0, es.stderr
        client.indices.refresh(index="phiwatch-alerts-*")
        count = client.count(index="phiwatch-alerts-*")["count"]
        assert count == len(sqlite_ids)

    listed = phiwatch("alerts", "--config", "es.yaml", "--format", "ndjson", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {orjson.loads(x)["id"] for x in listed.stdout.splitlines()} == sqlite_ids

    check = phiwatch("es", "check", "--config", "es.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    client.close()
