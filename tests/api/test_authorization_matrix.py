"""The authorization matrix: every role × every endpoint × own hospital / other hospital /
no token / expired token, each cell with its expected status, over real HTTP on both
store backends. Generated from one table (``ENDPOINTS``), which is itself checked against
the roles the application declares, so a new route cannot be left out. The inbox's
``POST /inbox/reports`` takes no token (the signed report is the proof) and answers a
malformed report with 422 whoever sends it.

The caller of "own" and "other" is a hospital IT user of Từ Dũ, an inspector, the
Department, an admin or a remote sensor of Từ Dũ; "own" objects and filters are Từ Dũ's,
"other" ones Chợ Rẫy's.
The status-change cell of an allowed caller sends a stale ``expected_version``: 409 shows
that authentication, role and hospital checks all passed (and changes nothing).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from apikit import NOW, SECRET, Running, World
from jose import jwt

from alerting.reports import sample
from alerting.reports.drafting import finalize
from alerting.reports.inbox import Submission, accept
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.records import ReportRecord, record_id
from alerting.reports.signing import load_signing_key
from api.roles import PUBLIC_PATHS, PUBLIC_ROUTES, ROLES, check_routes, declared_roles
from api.routes import ROUTERS

OWN, OTHER = "tu-du", "cho-ray"
CONDITIONS = ("own", "other", "no_token", "expired")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {hospital}, {alert}, {incident}, {rule} are filled per condition
    roles: frozenset[str] = frozenset()
    #: How "other hospital" matters: "filter" (a hospital parameter: 403 for hospital IT),
    #: "object" (another hospital's object: 404 for hospital IT), "" (not at all).
    scoped: str = ""
    body: dict[str, Any] | None = None
    ok: int = 200
    public: bool = False
    #: The route's path template when the path fills more than ids (a document name).
    route: str = ""
    #: Content type of a success (documents are files; errors are always JSON).
    media: str = "application/json"

    @property
    def template(self) -> str:
        if self.route:
            return self.route
        return (self.path.split("?")[0].replace("{alert}", "{alert_id}")
                .replace("{incident}", "{incident_id}").replace("{rule}", "{rule_id}")
                .replace("{report}", "{report_id}").replace("{received}", "{received_id}"))


IT, INSPECTOR, DEPARTMENT, ADMIN, SENSOR = (
    "hospital_it", "inspector", "department", "admin", "sensor")

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/health", public=True),
    Endpoint("GET", "/ready", public=True),
    Endpoint("GET", "/me", frozenset(ROLES)),
    Endpoint("GET", "/alerts?hospital={hospital}", frozenset({IT, INSPECTOR}), "filter"),
    Endpoint("GET", "/alerts/{alert}", frozenset({IT, INSPECTOR}), "object"),
    Endpoint("GET", "/incidents?hospital={hospital}", frozenset({IT, INSPECTOR, DEPARTMENT}),
             "filter"),
    Endpoint("GET", "/incidents/{incident}", frozenset({IT, INSPECTOR}), "object"),
    Endpoint("POST", "/incidents/{incident}/status", frozenset({IT}), "object",
             body={"to": "investigating", "comment": "matrix", "expected_version": 10**9},
             ok=409),
    Endpoint("POST", "/incidents/{incident}/notes", frozenset({IT, INSPECTOR}), "object",
             body={"text": "matrix note"}, ok=201),
    Endpoint("POST", "/incidents/{incident}/evidence-requests", frozenset({INSPECTOR}),
             "object", body={"text": "matrix request"}, ok=201),
    Endpoint("GET", "/stats/alerts?hospital={hospital}&start=2026-11-01T00:00:00Z",
             frozenset({IT, INSPECTOR, DEPARTMENT}), "filter"),
    Endpoint("GET", "/stats/incidents?hospital={hospital}",
             frozenset({IT, INSPECTOR, DEPARTMENT}), "filter"),
    Endpoint("GET", "/rules", frozenset({ADMIN})),
    Endpoint("POST", "/rules/validate", frozenset({ADMIN}), body={}),
    Endpoint("PUT", "/rules/{rule}/enabled", frozenset({ADMIN}),
             body={"enabled": True, "comment": "matrix"}),
    Endpoint("GET", "/audit", frozenset({ADMIN, INSPECTOR})),
    # Reports: the matrix world's incidents are new, so drafting one is a 409 (only a
    # confirmed leak is reported) and approving one without a draft too.
    Endpoint("GET", "/incidents/{incident}/reports", frozenset({IT, INSPECTOR}), "object"),
    Endpoint("POST", "/incidents/{incident}/reports/draft", frozenset({IT}), "object",
             body={}, ok=409),
    Endpoint("POST", "/incidents/{incident}/reports/approve", frozenset({IT}), "object",
             body={"comment": "matrix"}, ok=409),
    Endpoint("GET", "/reports?hospital={hospital}", frozenset({IT, INSPECTOR}), "filter"),
    Endpoint("GET", "/reports/{report}", frozenset({IT, INSPECTOR}), "object"),
    Endpoint("GET", "/reports/{report}/documents/pdf", frozenset({IT, INSPECTOR}), "object",
             route="/reports/{report_id}/documents/{name}", media="application/pdf"),
    Endpoint("POST", "/reports/{report}/retry", frozenset({IT}), "object"),
    # The inbox: its POST takes no token (a malformed report is a 422 for anyone).
    Endpoint("POST", "/inbox/reports", body={"jws": "not-a-report"}, ok=422, public=True),
    Endpoint("GET", "/inbox/reports?hospital={hospital}", frozenset({DEPARTMENT, INSPECTOR})),
    Endpoint("GET", "/inbox/reports/{received}", frozenset({DEPARTMENT, INSPECTOR})),
    Endpoint("GET", "/inbox/reports/{received}/documents/jws",
             frozenset({DEPARTMENT, INSPECTOR}),
             route="/inbox/reports/{received_id}/documents/{name}", media="application/jose"),
    # Ingest is off in this world: a sensor passes the role check and is then refused by
    # ``ingest.enabled`` (tests/remote covers the routes with ingest on).
    Endpoint("POST", "/ingest", frozenset({SENSOR}), ok=403),
    Endpoint("POST", "/ingest/heartbeat", frozenset({SENSOR}),
             body={"stream": "aa01", "through_seq": 0}, ok=403),
]


def expected(e: Endpoint, role: str, condition: str) -> int:
    if e.public:
        return e.ok
    if condition in ("no_token", "expired"):
        return 401
    if role not in e.roles:
        return 403
    if role == IT and condition == "other":
        return {"filter": 403, "object": 404}.get(e.scoped, e.ok)
    return e.ok


CELLS = [(e, role, c) for e in ENDPOINTS for role in ROLES for c in CONDITIONS]


def seed_report(running: Running, org: str, incident: str) -> str:
    """An issued report of ``org``'s incident, written straight into the store."""
    parts = running.server.app.state.phiwatch.reports
    facts = sample.sample_facts().model_copy(update={"hospital_id": org,
                                                     "incident_id": incident})
    record = ReportRecord(
        id=record_id(incident, "department_report"), hospital_id=org, incident_id=incident,
        kind="department_report", state="issued", facts=facts, drafted_at=NOW,
        drafted_by="matrix", number=1, number_text="1/BC-BVTD", year=2026, issued_at=NOW,
        issued_by="matrix").with_documents(b"PK docx", b"%PDF-1.4", b"a.b.c")
    if parts.records.get_report(record.id) is None:
        parts.records.save_report(record, None)
    return record.id


def seed_received(running: Running, world: World) -> None:
    """A report of Từ Dũ in the inbox, signed with its registered key."""
    parts = running.server.app.state.phiwatch.reports
    hospital = sample.sample_hospital().model_copy(update={"id": "tu-du"})
    facts = sample.sample_facts().model_copy(update={"hospital_id": "tu-du"})
    key = load_signing_key(world.keys / "tu-du.key.pem", "tu-du")
    issued = finalize(facts, hospital, numbers=SQLiteReportNumbers(world.folder / "n.db"),
                      key=key, issued_at=NOW)
    if parts.records.get_received("tu-du-2026-1-bc") is None:
        parts.records.add_received(accept(Submission(issued.jws, issued.docx, issued.pdf),
                                          parts.keyring, now=NOW))


@dataclass
class Matrix:
    running: Running
    client: httpx.Client
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def matrix(world: World) -> Iterator[Matrix]:
    running = world.serve()
    m = Matrix(running, running.client())
    for org in (OWN, OTHER):
        alert = world.alerts[org][0]
        store = world.open_store()
        try:
            incident = store.incident_of_alert(alert.id)
        finally:
            store.close()
        assert incident is not None
        m.objects[org] = {"alert": alert.id, "incident": incident.id, "hospital": org,
                          "rule": "phiwatch-his-bulk-export",
                          "report": seed_report(running, org, incident.id),
                          "received": "tu-du-2026-1-bc"}
    seed_received(running, world)
    for role in ROLES:
        hospital = OWN if role in (IT, SENSOR) else None
        m.tokens[(role, "valid")] = running.token(role, hospital)
        m.tokens[(role, "expired")] = running.token(
            role, hospital, ttl=timedelta(minutes=5), now=NOW - timedelta(days=400))
    yield m


def test_the_table_covers_every_route_and_its_declared_roles(matrix: Matrix) -> None:
    declared = declared_roles(ROUTERS)
    table = {(e.method, e.template): e.roles for e in ENDPOINTS if not e.public}
    assert table == declared
    public = {(e.method, e.template) for e in ENDPOINTS if e.public}
    assert public == {("GET", p) for p in ("/health", "/ready")} | PUBLIC_ROUTES
    assert {p for _, p in public} <= PUBLIC_PATHS | {p for _, p in PUBLIC_ROUTES}
    assert len(CELLS) == len(ENDPOINTS) * len(ROLES) * len(CONDITIONS)


@pytest.mark.parametrize(("endpoint", "role", "condition"), CELLS,
                         ids=[f"{e.method} {e.path.split('?')[0]} {r} {c}" for e, r, c in CELLS])
def test_cell(matrix: Matrix, endpoint: Endpoint, role: str, condition: str) -> None:
    values = matrix.objects[OTHER if condition == "other" else OWN]
    url = endpoint.path.format(**values)
    headers: dict[str, str] = {}
    if condition != "no_token":
        token = matrix.tokens[(role, "expired" if condition == "expired" else "valid")]
        headers["Authorization"] = f"Bearer {token}"
    r = matrix.client.request(endpoint.method, url, json=endpoint.body, headers=headers)
    want = expected(endpoint, role, condition)
    assert r.status_code == want, (r.status_code, r.text[:300])
    media = endpoint.media if want < 400 else "application/json"
    assert r.headers["content-type"].startswith(media)
    if want >= 400:
        body = r.json()
        assert set(body) >= {"error", "message", "request_id"}
        assert "Traceback" not in r.text


def test_an_undeclared_route_stops_the_application(matrix: Matrix) -> None:
    from fastapi import APIRouter, FastAPI

    stray = APIRouter()

    @stray.get("/stray")
    def stray_route() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(stray)
    with pytest.raises(RuntimeError, match="GET /stray"):
        check_routes(app, [stray])
    with pytest.raises(RuntimeError, match="GET /stray"):
        check_routes(app, [])


def test_a_token_without_a_phiwatch_role_is_refused_everywhere(matrix: Matrix) -> None:
    auth = matrix.running.config.api.auth
    now = int(time.time())
    for role in ("superuser", ["inspector", "admin"], None):
        claims: dict[str, Any] = {"iss": auth.issuer, "aud": auth.audience, "sub": "x",
                                  "iat": now, "exp": now + 600}
        if role is not None:
            claims["role"] = role
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        with matrix.running.client(token) as client:
            for e in ENDPOINTS:
                if e.public:
                    continue
                url = e.path.format(**matrix.objects[OWN])
                r = client.request(e.method, url, json=e.body)
                assert r.status_code == 403, (role, e.path, r.status_code)


def test_hospital_it_without_a_hospital_claim_is_refused(matrix: Matrix) -> None:
    auth = matrix.running.config.api.auth
    now = int(time.time())
    token = jwt.encode({"iss": auth.issuer, "aud": auth.audience, "sub": "x", "iat": now,
                        "exp": now + 600, "role": "hospital_it"}, SECRET, algorithm="HS256")
    with matrix.running.client(token) as client:
        assert client.get("/alerts").status_code == 401


def test_unknown_routes_are_refused_with_json(matrix: Matrix) -> None:
    with matrix.running.client(matrix.tokens[(ADMIN, "valid")]) as client:
        for method, path in (("GET", "/admin"), ("DELETE", "/incidents/x"),
                             ("PATCH", "/rules"), ("GET", "/alerts/a/b")):
            r = client.request(method, path)
            assert r.status_code in (404, 405), (method, path)
            assert r.json()["error"] in ("not_found", "method_not_allowed")
