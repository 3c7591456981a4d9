"""Generated deploy assets: the Kibana saved objects (consistent ids and references, fields
the index templates map), the Elasticsearch bodies (what the code installs), and the
WAL-safe backup script."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.incidents import (
    INCIDENT_MAPPINGS,
    incident_template_body,
    incidents_pattern,
)
from alerting.elasticsearch.retention import ilm_policy_body
from alerting.elasticsearch.template import MAPPINGS, ilm_policy_name, template_body

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG = ElasticsearchConfig(hosts=["http://localhost:9200"])


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


# -- Kibana ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved() -> list[dict[str, Any]]:
    lines = (DEPLOY / "kibana" / "phiwatch-dashboard.ndjson").read_text(
        encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def field_type(mappings: dict[str, Any], dotted: str) -> str | None:
    node: dict[str, Any] = mappings
    for part in dotted.split("."):
        props = node.get("properties")
        if not isinstance(props, dict) or part not in props:
            return None
        node = props[part]
    return str(node.get("type", "object"))


def test_the_ndjson_is_what_the_generator_writes() -> None:
    result = run_script("deploy/kibana/build.py", "--check")
    assert result.returncode == 0, result.stderr


def test_every_object_is_whole_and_every_reference_resolves(saved: list[dict[str, Any]]) -> None:
    ids = {(o["type"], o["id"]) for o in saved}
    assert len(ids) == len(saved)                                   # ids are unique
    for o in saved:
        assert {"id", "type", "attributes", "references"} <= set(o), o.get("id")
        assert o["attributes"]["title"]
        assert o["coreMigrationVersion"].startswith("8.")
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, (o["id"], ref)
    kinds = [o["type"] for o in saved]
    assert kinds.count("index-pattern") == 2 and kinds.count("dashboard") == 1
    assert kinds.count("lens") == 4


def test_data_views_match_the_index_patterns(saved: list[dict[str, Any]]) -> None:
    views = {o["id"]: o["attributes"] for o in saved if o["type"] == "index-pattern"}
    assert views["phiwatch-alerts"]["title"] == CONFIG.alerts_pattern
    assert views["phiwatch-incidents"]["title"] == incidents_pattern(CONFIG)
    for attributes in views.values():
        assert attributes["timeFieldName"] == "@timestamp"
    assert field_type(MAPPINGS, "@timestamp") == "date"
    assert field_type(INCIDENT_MAPPINGS, "@timestamp") == "date"


def test_dashboard_panels_point_at_the_charts(saved: list[dict[str, Any]]) -> None:
    (dash,) = (o for o in saved if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    charts = {o["id"]: o for o in saved if o["type"] == "lens"}
    titles = set()
    for p in panels:
        ref = refs[f"{p['panelIndex']}:{p['panelRefName']}"]
        assert ref["type"] == "lens" and ref["id"] in charts
        assert p["gridData"]["i"] == p["panelIndex"] and p["type"] == "lens"
        assert p["gridData"]["x"] + p["gridData"]["w"] <= 48
        titles.add(charts[ref["id"]]["attributes"]["title"])
    assert len(panels) == len(refs) == len(charts)
    assert any("Alerts over time by rule" in t for t in titles)
    assert any("Top staff" in t for t in titles)
    assert any("Incidents by status" in t for t in titles)
    assert any("Alerts by hospital" in t for t in titles)
    json.loads(dash["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    json.loads(dash["attributes"]["optionsJSON"])


OPERATION_TYPES = {"terms": {"keyword"}, "date_histogram": {"date"}}


def test_lens_layers_use_mapped_fields_of_their_data_view(saved: list[dict[str, Any]]) -> None:
    mappings = {"phiwatch-alerts": MAPPINGS, "phiwatch-incidents": INCIDENT_MAPPINGS}
    used: dict[str, str] = {}
    for o in (o for o in saved if o["type"] == "lens"):
        state = o["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            (ref,) = (r for r in o["references"]
                      if r["name"] == f"indexpattern-datasource-layer-{layer_id}")
            assert ref["type"] == "index-pattern"
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                op = column["operationType"]
                if op == "count":
                    assert column["sourceField"] == "___records___"
                    continue
                kind = field_type(mappings[ref["id"]], column["sourceField"])
                assert kind in OPERATION_TYPES[op], (o["id"], column["sourceField"], kind)
                used[column["sourceField"]] = ref["id"]
                if op == "terms":
                    assert column["params"]["orderBy"]["columnId"] in layer["columns"]
            accessors = _accessors(state["visualization"])
            assert accessors <= set(layer["columns"]), (o["id"], accessors)
    assert used == {"rule.name": "phiwatch-alerts", "@timestamp": "phiwatch-alerts",
                    "user.id": "phiwatch-alerts", "organization.id": "phiwatch-alerts",
                    "phiwatch.incident.status": "phiwatch-incidents"}


def _accessors(visualization: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for layer in visualization["layers"]:
        for key in ("xAccessor", "splitAccessor"):
            if key in layer:
                out.add(layer[key])
        for key in ("accessors", "primaryGroups", "metrics"):
            out.update(layer.get(key, []))
    return out


# -- Elasticsearch bodies -----------------------------------------------------------------

def test_exported_bodies_are_what_the_code_installs() -> None:
    result = run_script("deploy/elasticsearch/export.py", "--check")
    assert result.returncode == 0, result.stderr
    folder = DEPLOY / "elasticsearch"
    policy = ilm_policy_name(CONFIG)
    assert json.loads((folder / "phiwatch-alerts.index-template.json").read_text()) == \
        template_body(CONFIG, policy)
    assert json.loads((folder / "phiwatch-incidents.index-template.json").read_text()) == \
        incident_template_body(CONFIG)
    assert json.loads((folder / f"{policy}.ilm-policy.json").read_text()) == \
        {"policy": ilm_policy_body(CONFIG)}


def test_a_stale_export_is_detected(tmp_path: Path) -> None:
    assert run_script("deploy/elasticsearch/export.py", "--out", str(tmp_path)).returncode == 0
    (tmp_path / "phiwatch-alerts.index-template.json").write_text("{}\n")
    result = run_script("deploy/elasticsearch/export.py", "--out", str(tmp_path), "--check")
    assert result.returncode == 1 and "phiwatch-alerts.index-template.json" in result.stderr
    other = run_script("deploy/elasticsearch/export.py", "--out", str(tmp_path),
                       "--retention-days", "30", "--check")
    assert other.returncode == 1


# -- backup ----------------------------------------------------------------------------------

def test_backup_copies_committed_wal_content_while_a_writer_is_open(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "dead-letter").mkdir(parents=True)
    snap = sqlite3.connect(state / "state.db")
    snap.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
    snap.execute("INSERT INTO meta VALUES ('snapshot', '{}')")
    snap.commit()
    snap.close()
    (state / "dead-letter" / "run.ndjson").write_text('{"reason": "x"}\n', encoding="utf-8")
    writer = sqlite3.connect(state / "alerts.db", isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")        # everything stays in the WAL
        writer.execute("CREATE TABLE alerts (id TEXT PRIMARY KEY)")
        writer.executemany("INSERT INTO alerts VALUES (?)", [(f"a{i}",) for i in range(500)])
        writer.execute("BEGIN")
        writer.execute("INSERT INTO alerts VALUES ('uncommitted')")
        assert (state / "alerts.db-wal").stat().st_size > 0
        result = run_script("deploy/phiwatch-backup.py", str(state), str(tmp_path / "bk"))
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert result.returncode == 0, result.stderr
    (copy,) = (tmp_path / "bk").iterdir()
    assert copy.name.startswith("phiwatch-")
    db = sqlite3.connect(copy / "alerts.db")
    try:
        ids = {r[0] for r in db.execute("SELECT id FROM alerts")}
    finally:
        db.close()
    assert len(ids) == 500 and "uncommitted" not in ids
    copied = sqlite3.connect(copy / "state.db")
    assert copied.execute("SELECT value FROM meta").fetchone() == ("{}",)
    copied.close()
    assert (copy / "dead-letter" / "run.ndjson").exists()
    assert not (copy / "alerts.db-wal").exists()


def test_backup_refuses_a_missing_state_dir(tmp_path: Path) -> None:
    result = run_script("deploy/phiwatch-backup.py", str(tmp_path / "nope"), str(tmp_path))
    assert result.returncode == 2 and "not a folder" in result.stderr
