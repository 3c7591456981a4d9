"""Errors as JSON that name the field and leak nothing; safe headers; the rules routes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apikit import ENV, Running, World

from api.app import create_app
from api.server import ApiServer
from phiwatch.config import load_config


@pytest.fixture(scope="module")
def api(sqlite_world: World) -> Iterator[Running]:
    yield sqlite_world.serve()


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/alerts", {"limit": "many"}, "query.limit"),
    ("/alerts", {"limit": 0}, "query.limit"),
    ("/alerts", {"limit": 900}, "query.limit"),
    ("/alerts", {"severity": "urgent"}, "query.severity"),
    ("/alerts", {"start": "yesterday"}, "query.start"),
    ("/alerts", {"start": "2026-11-23T00:00:00Z", "end": "2026-11-22T00:00:00Z"},
     "query.end"),
    ("/alerts", {"sort": "random"}, "query.sort"),
    ("/alerts", {"hopsital": "tu-du"}, "query.hopsital"),
    ("/alerts", {"words": "x" * 201}, "query.words"),
    ("/alerts", {"cursor": "abc"}, "query.cursor"),
    ("/incidents", {"status": "open"}, "query.status"),
    ("/audit", {"after": -1}, "query.after"),
])
def test_a_422_names_the_field(api: Running, path: str, params: dict[str, Any],
                               field: str) -> None:
    r = api.client(api.token("inspector")).get(path, params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_request" and body["field"] == field
    assert body["message"].startswith(field)
    assert "x" * 50 not in r.text  # the input is not echoed back


def test_bodies_are_checked_and_bounded(api: Running) -> None:
    client = api.client(api.token("admin"))
    r = client.put("/rules/phiwatch-his-bulk-export/enabled",
                   json={"enabled": True, "comment": "x", "extra": 1})
    assert r.status_code == 422 and r.json()["field"] == "body.extra"
    r = client.put("/rules/phiwatch-his-bulk-export/enabled", content=b"\xff\xfe{",
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post("/rules/validate", content=b"{" + b" " * (2 << 20) + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_unknown_routes_and_methods_are_json(api: Running) -> None:
    client = api.client(api.token("admin"))
    r = client.get("/nothing/here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.delete("/rules")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_every_response_carries_safe_headers_and_a_request_id(api: Running) -> None:
    client = api.client()
    r = client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers
    r = client.get("/alerts", headers={"X-Request-ID": ("bad id\u00e9" * 20).encode()})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == r.json()["request_id"] != "bad id"


def test_a_store_that_does_not_answer_is_a_503_without_its_details(
        sqlite_world: World, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "c.yaml").write_text(json.dumps({
        "state_dir": str(tmp_path / "state"),
        "store": {"elasticsearch": {"hosts": [f"http://127.0.0.1:{port}"],
                                    "compat": "opensearch", "request_timeout": 2,
                                    "max_retries": 0}},
        "api": {"listen": "127.0.0.1:0"}}))
    config = load_config(tmp_path / "c.yaml")
    server = ApiServer(config, app=create_app(config, environ=ENV)).start()
    running = Running(server, config, server.url)
    try:
        client = running.client(running.token("inspector"))
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
        for path in ("/alerts", "/incidents", "/incidents/x", "/stats/alerts"):
            r = client.get(path)
            assert r.status_code == 503, (path, r.text)
            assert r.json()["error"] == "store_unavailable"
            for leak in (str(port), "127.0.0.1", "Elasticsearch", "Traceback",
                         "Connection"):
                assert leak not in r.text
    finally:
        running.stop()


def test_an_unexpected_failure_is_a_500_without_a_trace(api: Running) -> None:
    state = api.config.rules_state_path
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("{not json")
    try:
        r = api.client(api.token("admin")).get("/rules")
        assert r.status_code == 500
        assert r.json()["error"] == "internal_error"
        assert str(state) not in r.text and "Traceback" not in r.text
    finally:
        state.unlink()


def test_rules_are_listed_switched_and_validated(api: Running) -> None:
    client = api.client(api.token("admin", subject="admin-lan"))
    rules = client.get("/rules").json()
    ids = {r["id"] for r in rules}
    assert "phiwatch-his-bulk-patient-lookup" in ids and all(r["enabled"] for r in rules)
    r = client.put("/rules/phiwatch-his-off-shift-access/enabled",
                   json={"enabled": False, "comment": "chưa có lịch trực"})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["disabled_by"] == "admin-lan"
    saved = json.loads(api.config.rules_state_path.read_text())
    assert saved["disabled"]["phiwatch-his-off-shift-access"]["comment"] == "chưa có lịch trực"
    listed = {r["id"]: r for r in client.get("/rules").json()}
    assert listed["phiwatch-his-off-shift-access"]["enabled"] is False
    r = client.put("/rules/phiwatch-his-off-shift-access/enabled",
                   json={"enabled": True, "comment": "đã nạp lịch trực"})
    assert r.json()["enabled"] is True
    assert json.loads(api.config.rules_state_path.read_text())["disabled"] == {}
    r = client.put("/rules/no-such-rule/enabled", json={"enabled": False, "comment": "x"})
    assert r.status_code == 404
    assert client.post("/rules/validate", json={}).json()["ok"] is True
    good = Path(__file__).parents[2] / "rules" / "packs" / "his" / "bulk_export.yml"
    ok = client.post("/rules/validate", json={"rule_yaml": good.read_text()}).json()
    assert ok["ok"] is True and ok["ready"] >= 1
    bad = client.post("/rules/validate", json={"rule_yaml": "title: x\ndetection: [\n"}).json()
    assert bad["ok"] is False and bad["problems"][0]["path"] == "rule.yml"


def test_openapi_is_public_and_lists_the_bearer_scheme(api: Running) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "/incidents/{incident_id}/status" in schema["paths"]
