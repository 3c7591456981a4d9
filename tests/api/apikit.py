"""Shared by the API tests: three hospitals writing to one store, servers on loopback, tokens.

``World`` is one backend (a SQLite file, or an osmem-server clone over real HTTP) into
which three hospitals — Từ Dũ, Chợ Rẫy, Nhi Đồng 1 — each wrote alerts through their own
store object and grouped them into incidents with their own grouper, as three phiwatch
instances sharing the Department's cluster would. ``World.serve`` starts the real API
(``api.server.ApiServer``: uvicorn on 127.0.0.1, a free port) over it with a given
``api:`` configuration; tokens are real JWTs (``api.auth.issue_token`` or python-jose).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.grouping import IncidentGrouper
from alerting.reports.signing import write_key_pair
from alerting.sqlite_store import SQLiteAlertStore
from api.app import create_app
from api.auth import issue_token
from api.server import ApiServer
from phiwatch.config import Config, load_config
from rules.alert import Alert, EventRef, alert_id

HOSPITALS = ("tu-du", "cho-ray", "nhi-dong-1")
PREFIX = {"tu-du": "TD", "cho-ray": "CR", "nhi-dong-1": "ND"}
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "phiwatch-test-secret-" + "x" * 32
ENV = {"PHIWATCH_JWT_SECRET": SECRET}
RULES = ("phiwatch-his-flagged-patient-no-care", "phiwatch-his-bulk-patient-lookup")
SEVERITIES = ("medium", "high", "critical")
PAIRS = 12  # incidents per hospital, two alerts each


def patient(org: str, n: int) -> str:
    """A patient id of ``org`` that an alert's context names."""
    return f"{PREFIX[org]}{n:08d}"


def hidden_patient(org: str, n: int) -> str:
    """A patient id only the explanation names (found by the hospital's id pattern)."""
    return f"{PREFIX[org]}9{n:07d}"


def make_alert(org: str, n: int, *, start: datetime | None = None, user: str | None = None,
               rule: str | None = None, severity: str | None = None,
               explanation: str | None = None) -> Alert:
    """Alert ``n`` of hospital ``org``: pairs 2k, 2k+1 are one user's, 30 minutes apart."""
    k = n // 2
    user = user or f"nv{k % 4:05d}"
    start = start or T0 + timedelta(hours=8 * k, minutes=30 * (n % 2))
    rule = rule or RULES[n % 2]
    group = {"user.id": user}
    pid, hidden = patient(org, n), hidden_patient(org, n)
    ref = EventRef(f"/var/log/his/{org}/access.log:{n + 1}", f"{org}-ev{n}", start)
    last = EventRef(f"/var/log/his/{org}/access.log:{n + 500}", f"{org}-ev{n}-last",
                    start + timedelta(minutes=20))
    return Alert(
        id=alert_id(rule, group, start, org), rule_id=rule,
        rule_title="Flagged patient opened without a care relationship" if n % 2 == 0
        else "Bulk patient lookup by one user",
        severity=severity or SEVERITIES[n % 3], group=group, window_start=start,
        window_end=start + timedelta(minutes=20), event_count=3 + n, value_count=2,
        explanation=explanation or (
            f"{user} (Nguyễn Thị Lan) opened flagged patient {pid} and then {hidden} "
            f"with no care relationship ({3 + n} records in 20 min)"),
        first_event=ref, last_event=last, sample=[ref, last], organization_id=org,
        tags=["attack.collection"],
        context={"user.id": user, "user.name": "Nguyễn Thị Lan", "patient.id": pid,
                 "source.ip": "10.20.3.45", "host.name": "WS-SAN-A-03",
                 "url.path": f"/emr/patients/{pid}/chart"},
        metrics={"threshold": 1.0}, revision=1, final=True,
    )


def hospital_alerts(org: str) -> list[Alert]:
    return [make_alert(org, n) for n in range(2 * PAIRS)]


@dataclass
class Running:
    """One API server and what it was started with."""

    server: ApiServer
    config: Config
    url: str
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        h = dict(headers)
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        c = httpx.Client(base_url=self.url, headers=h, timeout=30)
        self.clients.append(c)
        return c

    def token(self, role: str, hospital: str | None = None, *, subject: str = "tester",
              ttl: timedelta = timedelta(hours=1), now: datetime | None = None) -> str:
        return issue_token(self.config.api.auth, SECRET.encode(), subject=subject,
                           role=role, hospital=hospital, ttl=ttl,  # type: ignore[arg-type]
                           now=now)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.server.stop()


class World:
    """One backend holding three hospitals' alerts and incidents."""

    def __init__(self, backend: str, folder: Path, es_url: str | None = None) -> None:
        self.backend = backend
        self.folder = folder
        self.es_url = es_url
        self.running: list[Running] = []
        self.alerts: dict[str, list[Alert]] = {}
        self.keys = folder / "keys"
        for org in HOSPITALS:
            write_key_pair(self.keys, org)
        for org in HOSPITALS:
            store = self.open_store()
            try:
                alerts = hospital_alerts(org)
                store.write(alerts)
                IncidentGrouper(store).add(alerts, NOW)
            finally:
                store.close()
            self.alerts[org] = alerts

    def store_section(self) -> dict[str, Any]:
        if self.backend == "sqlite":
            return {"sqlite_path": str(self.folder / "alerts.db")}
        return {"elasticsearch": {
            "hosts": [self.es_url], "compat": "opensearch", "refresh": "true",
            "request_timeout": 10, "max_retries": 0,
            "spool_dir": str(self.folder / "spool")}}

    def open_store(self) -> Any:
        if self.backend == "sqlite":
            return SQLiteAlertStore(self.folder / "alerts.db")
        assert self.es_url is not None
        config = ElasticsearchConfig(hosts=[self.es_url], compat="opensearch", refresh="true",
                                     spool_dir=self.folder / "spool", request_timeout=10)
        return ElasticsearchAlertStore(config, background=False)

    def config(self, api: dict[str, Any] | None = None, name: str = "phiwatch") -> Config:
        """A configuration over this world (its own file; shared state_dir: same keys)."""
        section: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "hospitals": {org: {"patient_id_patterns": [rf"{PREFIX[org]}\d{{8}}"]}
                          for org in HOSPITALS},
        }
        section.update(api or {})
        data = {"organization": {"id": "so-y-te", "name": "Sở Y tế"},
                "state_dir": str(self.folder / "state"), "store": self.store_section(),
                "api": section, "reports": self.reports_section()}
        path = self.folder / f"{name}-{len(self.running)}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return load_config(path)

    def reports_section(self) -> dict[str, Any]:
        """Từ Dũ issues reports here, and the inbox trusts the three hospitals' keys."""
        return {
            "hospital": {"id": "tu-du", "name": "Bệnh viện Từ Dũ", "code": "BVTD",
                         "signer": {"name": "Trần Ngọc Hải"},
                         "data_protection": {"name": "Nguyễn Văn An", "phone": "028 5404 2829",
                                             "email": "cntt@tudu.example.vn"}},
            "signing_key_file": str(self.keys / "tu-du.key.pem"),
            "department": {"hospital_keys": {org: str(self.keys / f"{org}.pub.pem")
                                             for org in HOSPITALS}},
        }

    def serve(self, api: dict[str, Any] | None = None, env: dict[str, str] | None = None
              ) -> Running:
        config = self.config(api)
        app = create_app(config, environ={**ENV, **(env or {})})
        server = ApiServer(config, app=app).start()
        running = Running(server, config, server.url)
        self.running.append(running)
        return running

    def close(self) -> None:
        for r in self.running:
            r.stop()


@contextmanager
def env(**values: str) -> Iterator[None]:
    """Environment variables set for a block (for the command-line tests)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


W = TypeVar("W", bound=World)


def world_on(request: Any, folder: Path, kind: type[W] = World) -> Iterator[W]:  # type: ignore[assignment]
    """A ``kind`` world on the fixture's backend (``request.param``): a SQLite file, or a
    clone of the session's osmem-server (skipped, saying why, when it cannot run here)."""
    if request.param == "sqlite":
        w = kind("sqlite", folder)
        yield w
        w.close()
        return
    server = request.getfixturevalue("osmem_server")
    with server.clone() as clone:
        w = kind("elasticsearch", folder, clone.url)
        yield w
        w.close()
