"""``POST /ingest`` over real HTTP: only a sensor token of the right hospital and name
gets a batch in, only when ingest is enabled, and every refusal says why."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from remotekit import token

from phiwatch.config import Config
from sensors.event import Event
from sensors.remote.batch import Header, encode
from sensors.remote.journal import IngestJournal

T0 = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)
GZ = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}


def body(seq: int = 1, n: int = 3, sensor: str = "his-app-01", org: str | None = None) -> bytes:
    evs = []
    for i in range(n):
        fields: dict[str, object] = {"event.dataset": "his.access", "user.id": "nv01",
                                     "event.action": "view", "patient.id": f"BN{i:08d}"}
        if org:
            fields["organization.id"] = org
        evs.append(Event(T0, fields, f"access.log:{i + 1}", f"id-{seq}-{i}"))
    return encode(Header(sensor, "aa01", seq, T0.timestamp(), n), evs)


def post(url: str, tok: str | None, data: bytes, headers: dict[str, str] = GZ
         ) -> httpx.Response:
    h = dict(headers)
    if tok:
        h["Authorization"] = f"Bearer {tok}"
    return httpx.post(f"{url}/ingest", content=data, headers=h, timeout=30)


def test_a_batch_is_journaled_once(engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    tok = token(config, "sensor")
    r = post(url, tok, body(1))
    assert (r.status_code, r.json()) == (200, {"status": "accepted", "seq": 1, "events": 3})
    assert post(url, tok, body(1)).json()["status"] == "duplicate"
    j = IngestJournal(config.ingest_path)
    (info,) = j.streams()
    assert (info.sensor, info.hospital, info.last_seq) == ("his-app-01", "tu-du", 1)
    assert j.pending() == 1
    hb = httpx.post(f"{url}/ingest/heartbeat", json={"stream": "aa01", "through_seq": 1,
                                                     "watermark": T0.timestamp() + 60},
                    headers={"Authorization": f"Bearer {tok}"})
    assert hb.status_code == 204
    assert j.streams()[0].watermark == T0.timestamp() + 60
    j.close()


@pytest.mark.parametrize("role", ["hospital_it", "inspector", "department", "admin"])
def test_no_other_role_may_send(engine_api: Callable[..., tuple[Config, str]],
                                role: str) -> None:
    config, url = engine_api()
    r = post(url, token(config, role, hospital="tu-du" if role == "hospital_it" else None),
             body())
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_a_sensor_token_reads_nothing(engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    h = {"Authorization": f"Bearer {token(config, 'sensor')}"}
    for path in ("/alerts", "/incidents", "/rules", "/audit", "/stats/incidents"):
        assert httpx.get(f"{url}{path}", headers=h).status_code == 403, path


def test_refusals_say_why(engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    tok = token(config, "sensor")
    assert post(url, None, body()).status_code == 401
    r = post(url, tok, body(sensor="his-app-02"))
    assert r.status_code == 403 and "his-app-02" in r.json()["message"]
    r = post(url, tok, body(org="cho-ray"))
    assert r.status_code == 422 and r.json()["field"] == "organization.id"
    assert "line 2" in r.json()["message"] or ":2" in r.json()["message"]
    r = post(url, tok, gzip.decompress(body()), {"Content-Type": "application/x-ndjson"})
    assert r.status_code == 415
    r = post(url, tok, b"not gzip at all")
    assert r.status_code == 422
    r = post(url, tok, gzip.compress(b"\n" * (64 << 20)))  # a 64 MiB bomb in ~64 KiB
    assert r.status_code == 422 and "decompresses to more than" in r.json()["message"]
    r = post(url, tok, b"x" * (300 << 10))  # over ingest.max_batch_bytes by Content-Length
    assert r.status_code == 413
    assert IngestJournal(config.ingest_path).pending() == 0


def test_a_chunked_body_over_the_limit_is_refused(
        engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    host, port = url.removeprefix("http://").split(":")

    def chunks() -> bytes:
        piece = b"x" * 65536
        out = b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(8))
        return out + b"0\r\n\r\n"

    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n"
                  b"Authorization: Bearer " + token(config, "sensor").encode() + b"\r\n\r\n"
                  + chunks())
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_ingest_is_off_unless_enabled(engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api(enabled=False)
    r = post(url, token(config, "sensor"), body())
    assert r.status_code == 403 and "ingest.enabled" in r.json()["message"]
