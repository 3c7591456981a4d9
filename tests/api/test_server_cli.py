"""The commands (``phiwatch api``, ``token issue``, ``audit verify``) as an operator runs
them, and the server started on a thread with TLS, as ``phiwatch run`` will."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from apikit import ENV, SECRET, World
from audit_tamper import tamper
from typer.testing import CliRunner

from api.app import create_app
from api.auth import issue_token
from api.server import ApiServer, serve_in_thread
from phiwatch.cli import app as cli
from phiwatch.config import load_config


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def phiwatch(*args: str, env: dict[str, str | None] | None = None,
             process: bool = False) -> Ran:
    """Run the command line: in this process (Typer's runner: the same code, no start-up
    cost), or as a process of its own when ``process``."""
    if process:
        environ = {**os.environ, **{k: v for k, v in (env or {}).items() if v is not None}}
        for k, v in (env or {}).items():
            if v is None:
                environ.pop(k, None)
        r = subprocess.run([sys.executable, "-m", "phiwatch", *args], capture_output=True,
                           text=True, timeout=120, env=environ)
        return Ran(r.returncode, r.stdout, r.stderr)
    result = CliRunner().invoke(cli, list(args), env=env)
    return Ran(result.exit_code, result.stdout, result.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_phiwatch_api_serves_tokens_from_phiwatch_token_issue(sqlite_world: World) -> None:
    config = sqlite_world.config(name="cli")
    path = next(sqlite_world.folder.glob("cli-*.yaml"))
    port = free_port()
    issued = phiwatch("token", "issue", "--config", str(path), "--role", "hospital_it",
                      "--hospital", "tu-du", "--ttl", "10m", "--subject", "it-lan",
                      env=dict(ENV))
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "phiwatch", "api", "--config", str(path),
                             "--listen", f"127.0.0.1:{port}"], env={**os.environ, **ENV},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):  # bounded wait for the server to listen
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.get(f"{url}/incidents", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert {i["organization_id"] for i in r.json()["items"]} == {"tu-du"}
        me = httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["subject"] == "it-lan" and me["role"] == "hospital_it"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert config.api.listen == "127.0.0.1:0"


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--role", "inspector"], {}, "PHIWATCH_JWT_SECRET must hold"),
    (["--role", "inspector"], {"PHIWATCH_JWT_SECRET": "short"}, "at least 32 bytes"),
    (["--role", "root"], ENV, "unknown role"),
    (["--role", "hospital_it"], ENV, "needs --hospital"),
    (["--role", "inspector", "--ttl", "forever"], ENV, "--ttl"),
    (["--role", "inspector", "--ttl", "90d"], ENV, "30 days"),
])
def test_token_issue_refuses_what_it_cannot_sign(tmp_path: Path, args: list[str],
                                                 env: dict[str, str], message: str) -> None:
    (tmp_path / "c.yaml").write_text("state_dir: var\n")
    r = phiwatch("token", "issue", "--config", str(tmp_path / "c.yaml"), *args,
                 env={"PHIWATCH_JWT_SECRET": None, **env})
    assert r.returncode == 2 and message in " ".join(r.stderr.split()), r.stderr
    assert SECRET not in r.stderr


def make_audited_world(backend: str, folder: Path, request: pytest.FixtureRequest
                       ) -> tuple[World, Path, Any]:
    clone = None
    es_url = None
    if backend == "elasticsearch":
        clone = request.getfixturevalue("osmem_server").clone()
        es_url = clone.__enter__().url
    world = World(backend, folder, es_url)
    running = world.serve()
    with running.client(running.token("inspector", subject="thanh-tra")) as c:
        for org in ("tu-du", "cho-ray", "nhi-dong-1"):
            for page in (1, 2):
                assert c.get("/alerts", params={"hospital": org, "limit": page}).status_code \
                    == 200
    path = next(folder.glob("phiwatch-*.yaml"))
    return world, path, clone


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
@pytest.mark.parametrize("how", ["intact", "edit", "remove", "reorder"])
def test_audit_verify_finds_an_edited_removed_or_reordered_record(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str, how: str) -> None:
    if backend == "elasticsearch" and how == "intact":
        pytest.skip("the intact case runs on SQLite; the chain code is the same")
    world, path, clone = make_audited_world(backend, tmp_path, request)
    try:
        if how != "intact":
            store = world.open_store()
            try:
                tamper(store, how)
            finally:
                store.close()
        # One case as an operator runs it: a process of its own, its exit code.
        r = phiwatch("audit", "verify", "--config", str(path),
                     process=(how == "edit" and backend == "sqlite"))
    finally:
        world.close()
        if clone is not None:
            clone.__exit__(None, None, None)
    if how == "intact":
        assert r.returncode == 0, r.stderr
        assert "audit log intact: 6 record(s)" in r.stdout
        head = r.stdout.split("head: ")[1].split()[0]
        assert head.startswith("6:")
        return
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "record 3" in r.stderr, r.stderr


def test_audit_verify_with_an_anchor_finds_removed_newest_records(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    world, path, _ = make_audited_world("sqlite", tmp_path, request)
    world.close()
    head = phiwatch("audit", "verify", "--config", str(path)).stdout.split("head: ")[1].split()[0]
    store = world.open_store()
    try:
        with store._db:
            store._db.execute("DELETE FROM audit_log WHERE seq >= 5")
    finally:
        store.close()
    plain = phiwatch("audit", "verify", "--config", str(path))
    assert plain.returncode == 0  # the chain alone cannot see the newest records gone
    anchored = phiwatch("audit", "verify", "--config", str(path), "--anchor", head)
    assert anchored.returncode == 1 and "removed" in anchored.stderr


def test_serve_in_thread_with_tls_starts_and_stops(sqlite_world: World, tmp_path: Path
                                                   ) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "api.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "api.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    base = sqlite_world.config(name="tls")
    data = yaml.safe_load(next(sqlite_world.folder.glob("tls-*.yaml")).read_text())
    data["api"].update({"tls_cert_file": str(tmp_path / "api.pem"),
                        "tls_key_file": str(tmp_path / "api.key"), "serve_with_run": True})
    (tmp_path / "tls.yaml").write_text(yaml.safe_dump(data))
    config = load_config(tmp_path / "tls.yaml")
    assert config.api.serve_with_run and base.api.tls_cert_file is None
    trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    server = ApiServer(config, app=create_app(config, environ=ENV)).start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        r = httpx.get(f"{server.url}/health", verify=trusted)
        assert r.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/health", verify=True)  # not a public CA
    finally:
        server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", verify=trusted, timeout=2)


def test_serve_in_thread_uses_the_configured_secret_from_the_environment(
        sqlite_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHIWATCH_JWT_SECRET", SECRET)
    config = sqlite_world.config(name="thread")
    server = serve_in_thread(config)
    try:
        token = issue_token(config.api.auth, SECRET.encode(), subject="x", role="department",
                            hospital=None, ttl=timedelta(minutes=5))
        r = httpx.get(f"{server.url}/stats/incidents",
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    finally:
        server.stop()
