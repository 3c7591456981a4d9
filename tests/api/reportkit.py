"""Shared by the report tests: a hospital's phiwatch and the Department's, both real.

``Deployment`` is one backend (SQLite files, or osmem-server clones over real HTTP) with
two instances: Từ Dũ's (its store holds its alerts and incidents, its reports go by
webhook to the Department's inbox and by email to a local aiosmtpd server) and the
Department's (``reports.department`` registers Từ Dũ's public key). Both are the real
API under uvicorn on 127.0.0.1. Incidents are detected relative to the wall clock so
that "on time" and "late" hold whatever day the tests run.
"""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import yaml
from apikit import ENV, SECRET, make_alert
from runkit import his_line

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.grouping import IncidentGrouper
from alerting.reports.signing import write_key_pair
from alerting.sqlite_store import SQLiteAlertStore
from api.app import create_app
from api.auth import issue_token
from api.server import ApiServer
from phiwatch.config import Config, load_config
from phiwatch.report_parts import ReportParts, open_report_parts
from rules.alert import Alert, EventRef

HOSPITAL = "tu-du"
PAIRS = 12
LATE_PAIRS = (10, 11)
WEBHOOK_SECRET = "tu-du-webhook-secret-0123456789"
PROFILE: dict[str, Any] = {
    "name": "Bệnh viện Từ Dũ", "code": "BVTD",
    "signer": {"title": "Giám đốc", "name": "Trần Ngọc Hải"},
    "data_protection": {"name": "Nguyễn Văn An", "title": "Trưởng phòng CNTT",
                        "phone": "028 5404 2829", "email": "cntt@tudu.example.vn"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """aiosmtpd handler: refuses the first ``refuse`` messages with 451, keeps the rest."""

    refuse: int = 0
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@dataclass
class Instance:
    config: Config
    server: ApiServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self) -> Instance:
        app = create_app(self.config, environ=ENV)
        self.server = ApiServer(self.config, app=app).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def token(self, role: str, hospital: str | None = None, subject: str = "tester") -> str:
        return issue_token(self.config.api.auth, SECRET.encode(), subject=subject,
                           role=role, hospital=hospital,  # type: ignore[arg-type]
                           ttl=timedelta(hours=1))

    def client(self, role: str, hospital: str | None = None, subject: str = "tester"
               ) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, headers={
            "Authorization": f"Bearer {self.token(role, hospital, subject)}"})

    def parts(self) -> ReportParts:
        """The report machinery of this configuration, opened anew (as `phiwatch report
        send --due` or the run loop would, beside the API process)."""
        parts = open_report_parts(self.config)
        assert parts is not None
        return parts


class Deployment:
    """A hospital's and the Department's phiwatch on one backend."""

    def __init__(self, backend: str, folder: Path, es_urls: tuple[str, str] | None = None,
                 *, smtp_port: int, department_port: int | None = None) -> None:
        self.backend = backend
        self.folder = folder
        self.es_urls = es_urls
        self.keys = folder / "keys"
        write_key_pair(self.keys, HOSPITAL)
        write_key_pair(self.keys, "cho-ray")
        self.smtp_port = smtp_port
        self.department_port = department_port or free_port()
        self.department = Instance(self.config("department"))
        self.hospital = Instance(self.config("hospital"))
        self.now = datetime.now(UTC)
        self.incidents: dict[int, str] = {}
        self._seed()

    def store_section(self, name: str) -> dict[str, Any]:
        if self.backend == "sqlite":
            return {"sqlite_path": str(self.folder / name / "alerts.db")}
        assert self.es_urls is not None
        url = self.es_urls[0 if name == "hospital" else 1]
        return {"elasticsearch": {"hosts": [url], "compat": "opensearch", "refresh": "true",
                                  "request_timeout": 30, "max_retries": 0,
                                  "spool_dir": str(self.folder / name / "spool")}}

    def config(self, name: str) -> Config:
        data: dict[str, Any] = {
            "state_dir": str(self.folder / name / "state"), "store": self.store_section(name),
            "api": {"listen": "127.0.0.1:0",
                    "hospitals": {HOSPITAL: {"patient_id_patterns": [r"TD\d{8}"]}}}}
        if name == "hospital":
            data["organization"] = {"id": HOSPITAL, "name": "Bệnh viện Từ Dũ"}
            inbox = f"http://127.0.0.1:{self.department_port}/inbox/reports"
            data["reports"] = {
                "hospital": PROFILE, "signing_key_file": str(self.keys / f"{HOSPITAL}.key.pem"),
                "retry_base_seconds": 60, "retry_max_seconds": 600,
                "email": {"host": "127.0.0.1", "port": self.smtp_port, "security": "none",
                          "sender": "phiwatch@tudu.example.vn", "timeout_seconds": 10},
                "webhook": {"secret": WEBHOOK_SECRET, "allow_http": True,
                            "timeout_seconds": 10},
                "send_report_to": {"webhook": [inbox]},
                "send_notification_to": {"email": ["a05@bocongan.example.vn"]},
            }
        else:
            data["organization"] = {"id": "so-y-te", "name": "Sở Y tế"}
            data["api"]["listen"] = f"127.0.0.1:{self.department_port}"
            data["reports"] = {"department": {"hospital_keys": {
                HOSPITAL: str(self.keys / f"{HOSPITAL}.pub.pem"),
                "cho-ray": str(self.keys / "cho-ray.pub.pem")}}}
        path = self.folder / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return load_config(path)

    def open_store(self, name: str = "hospital") -> Any:
        if self.backend == "sqlite":
            return SQLiteAlertStore(self.folder / name / "alerts.db")
        assert self.es_urls is not None
        url = self.es_urls[0 if name == "hospital" else 1]
        config = ElasticsearchConfig(hosts=[url], compat="opensearch", refresh="true",
                                     spool_dir=self.folder / name / "spool",
                                     request_timeout=30)
        return ElasticsearchAlertStore(config, background=False)

    def alert(self, n: int) -> Alert:
        """``apikit.make_alert`` whose evidence is in a log file of this deployment: the
        user's views of ten patients between its first and last event."""
        a = make_alert(HOSPITAL, n)
        user = a.group["user.id"]
        log = self.folder / "logs" / f"access-{n}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        first, last = a.first_event.timestamp, a.last_event.timestamp
        lines = [his_line(first - timedelta(minutes=5), "nv09999", "view", 1)] * n
        lines.append(his_line(first, user, "view", 900_000 + n * 100))
        for i in range(1, 499):
            lines.append(his_line(first + timedelta(seconds=2 * i), user, "view",
                                  900_000 + n * 100 + i % 10))
        lines.append(his_line(last, user, "view", 900_000 + n * 100 + 1))
        first_ref = EventRef(f"{log}:{n + 1}", a.first_event.event_id, first)
        last_ref = EventRef(f"{log}:{n + 500}", a.last_event.event_id, last)
        log.write_bytes(b"".join(lines))
        return replace(a, first_event=first_ref, last_event=last_ref,
                       sample=[first_ref, last_ref])

    def _seed(self) -> None:
        """Twelve incidents of Từ Dũ: ten detected an hour ago, two 100 hours ago."""
        store = self.open_store()
        try:
            for k in range(PAIRS):
                pair = [self.alert(2 * k), self.alert(2 * k + 1)]
                store.write(pair)
                hours = 100 if k in LATE_PAIRS else 1
                IncidentGrouper(store).add(pair, self.now - timedelta(hours=hours))
                incident = store.incident_of_alert(pair[0].id)
                assert incident is not None
                self.incidents[k] = incident.id
        finally:
            store.close()

    def close(self) -> None:
        self.hospital.stop()
        self.department.stop()
