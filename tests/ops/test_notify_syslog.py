"""Syslog notifications to real UDP, TCP and TLS listeners on loopback: RFC 5424 and CEF
byte for byte, octet-counting framing, hostile strings that must not forge a field, an
event or a frame, the size limit, and a retry while the SIEM is down."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opskit import SENDER, T0, alert, free_port, notify_config

from alerting.notify.cef import escape_extension, escape_header
from alerting.notify.channels import phiwatch_version
from alerting.notify.notifier import Notifier
from alerting.reports.outbox import State

trustme = pytest.importorskip("trustme", reason="pip install trustme")

V = phiwatch_version()
EXPECTED = (
    "<163>1 2026-11-22T01:15:02.000Z pw-bv-tu-du phiwatch - alert - "
    f"CEF:0|phiwatch|phiwatch|{V}|phiwatch-his-bulk-patient-lookup|"
    "Bulk patient lookup by one user|8|"
    "rt=1795310102000 start=1795306802000 end=1795310102000 cnt=130 "
    "externalId=81059898f36a05b8ff2a6079f2eeb79c cat=phiwatch/alert suser=nv01234 "
    "src=10.20.3.45 shost=WS-SAN-A-03 "
    "msg=nv01234 (Trần Văn Bình) opened 120 distinct patients' records in 55 min "
    "cs1Label=organization cs1=bv-tu-du cs2Label=group cs2=user.id\\=nv01234 "
    "cs3Label=final cs3=false cn1Label=revision cn1=0 cn2Label=distinctValues cn2=120"
).encode()


class StreamListener:
    """Accepts TCP (or TLS) connections on loopback and keeps each one's bytes."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = int(self.server.getsockname()[1])
        self.tls = tls
        self.streams: list[bytes] = []
        self.closed = threading.Semaphore(0)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            data = b""
            with conn:
                try:
                    sock = self.tls.wrap_socket(conn, server_side=True) if self.tls else conn
                    while chunk := sock.recv(65536):
                        data += chunk
                except ssl.SSLError:  # the client refused our certificate
                    continue
            self.streams.append(data)
            self.closed.release()

    def wait(self, n: int) -> list[bytes]:
        for _ in range(n):
            assert self.closed.acquire(timeout=10), "the listener got no connection"
        return self.streams

    def close(self) -> None:
        self.server.close()


def frames(stream: bytes) -> list[bytes]:
    """RFC 6587 octet counting, parsed strictly."""
    out = []
    while stream:
        length, sep, rest = stream.partition(b" ")
        assert sep and length.isdigit() and not length.startswith(b"0"), stream[:20]
        out.append(rest[:int(length)])
        assert len(out[-1]) == int(length)
        stream = rest[int(length):]
    return out


_UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")


def parse_cef(text: str) -> tuple[list[str], dict[str, str]]:
    """Header fields and extension of a CEF event, unescaped (the SIEM's view)."""
    fields: list[str] = []
    rest = text
    for _ in range(7):
        m = _UNESCAPED_PIPE.search(rest)
        assert m is not None
        fields.append(rest[:m.end() - 1].replace("\\|", "|").replace("\\\\", "\\"))
        rest = rest[m.end():]
    ext: dict[str, str] = {}
    for m in re.finditer(r"(\w+)=((?:[^\\=]|\\.)*?)(?=\s\w+=|$)", rest):
        value = re.sub(r"\\(.)", lambda e: {"n": "\n", "r": "\r"}.get(e[1], e[1]), m[2])
        ext[m[1]] = value
    return fields, ext


def _channel(transport: str, port: int, **kw: Any) -> dict[str, Any]:
    return {"type": "syslog", "name": "siem", "host": "127.0.0.1", "port": port,
            "transport": transport, "hostname": "pw-bv-tu-du", "timeout_seconds": 5, **kw}


def _notifier(tmp_path: Path, channel: dict[str, Any]) -> Notifier:
    return Notifier(notify_config(channel, realert_minutes=0), sender=SENDER,
                    state_dir=tmp_path)


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


def test_udp_datagram_is_rfc5424_with_cef_byte_for_byte(udp: socket.socket,
                                                         tmp_path: Path) -> None:
    n = _notifier(tmp_path, _channel("udp", udp.getsockname()[1]))
    n.submit([alert()], now=T0)
    (a,) = n.run_due(T0)
    assert a.result is State.DELIVERED
    data, _ = udp.recvfrom(65536)
    assert data == EXPECTED


def test_tcp_frames_by_octet_counting(tmp_path: Path) -> None:
    listener = StreamListener()
    try:
        n = _notifier(tmp_path, _channel("tcp", listener.port))
        critical = alert(user="nv2", severity="critical", final=True, revision=3,
                         explanation="multi\nline")
        n.submit([alert(), critical], now=T0)
        assert [x.result for x in n.run_due(T0)] == [State.DELIVERED] * 2
        streams = listener.wait(2)
    finally:
        listener.close()
    messages = sorted((m for s in streams for m in frames(s)), reverse=True)
    assert messages[0] == EXPECTED                      # <163>: local4.err (high)
    assert messages[1].startswith(b"<162>1 2026-11-22T01:15:02.000Z pw-bv-tu-du phiwatch - ")
    _, ext = parse_cef(messages[1].split(b" - alert - ", 1)[1].decode())
    assert (ext["msg"], ext["cs3"], ext["cn1"], ext["suser"]) == \
        ("multi\nline", "true", "3", "nv2")
    assert b"\n" not in messages[1]


def test_tls_with_the_siems_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "siem-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    listener = StreamListener(tls=server_ctx)
    try:
        n = _notifier(tmp_path, _channel("tls", listener.port, ca_file=str(ca_file)))
        n.submit([alert()], now=T0)
        assert [x.result for x in n.run_due(T0)] == [State.DELIVERED]
        (stream,) = listener.wait(1)
    finally:
        listener.close()
    assert frames(stream) == [EXPECTED]


def test_tls_refuses_an_unknown_certificate(tmp_path: Path) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_ctx)
    listener = StreamListener(tls=server_ctx)
    try:
        n = _notifier(tmp_path, _channel("tls", listener.port))   # system CAs only
        n.submit([alert()], now=T0)
        (x,) = n.run_due(T0)
    finally:
        listener.close()
    assert x.result is State.PENDING and "CERTIFICATE_VERIFY_FAILED" in x.error


HOSTILE = {
    "title": "Bulk | lookup \\ by one user\r\n<14>1 2026-01-01T00:00:00Z forged",
    "user": "nv01 suser=admin cs1=other-hospital",
    "explanation": "x=1 \\ y\nCEF:0|evil|evil|1|1|forged|10|src=6.6.6.6\r\x00\x1b[2J\u202e",
}


def test_hostile_strings_stay_inside_their_fields(udp: socket.socket, tmp_path: Path) -> None:
    n = _notifier(tmp_path, _channel("udp", udp.getsockname()[1]))
    a = alert(title=HOSTILE["title"], user=HOSTILE["user"], explanation=HOSTILE["explanation"])
    n.submit([a], now=T0)
    n.run_due(T0)
    data, _ = udp.recvfrom(65536)
    head, _, cef = data.partition(b" - alert - ")
    assert head == b"<163>1 2026-11-22T01:15:02.000Z pw-bv-tu-du phiwatch"
    assert b"\n" not in data and b"\r" not in data and b"\x00" not in data
    assert b"\x1b" not in data and "\u202e".encode() not in data
    fields, ext = parse_cef(cef.decode())
    assert fields[0] == "CEF:0" and fields[6] == "8"
    assert fields[5] == ("Bulk | lookup \\ by one user\\x0d\\x0a<14>1 "
                         "2026-01-01T00:00:00Z forged")
    assert ext["suser"] == HOSTILE["user"]              # "suser=admin" did not become a key
    assert ext["cs1"] == "bv-tu-du" and ext["src"] == "10.20.3.45"
    assert ext["msg"] == ("x=1 \\ y\nCEF:0|evil|evil|1|1|forged|10|src=6.6.6.6"
                          "\\x0d\\x00\\x1b[2J\\u202e")
    assert list(ext) == ["rt", "start", "end", "cnt", "externalId", "cat", "suser", "src",
                         "shost", "msg", "cs1Label", "cs1", "cs2Label", "cs2", "cs3Label",
                         "cs3", "cn1Label", "cn1", "cn2Label", "cn2"]


def test_escaping_rules_of_the_cef_spec() -> None:
    assert escape_header("a|b\\c=d") == "a\\|b\\\\c=d"
    assert escape_extension("a|b\\c=d\r\ne\nf\rg") == "a|b\\\\c\\=d\\ne\\nf\\rg"


def test_a_long_message_is_shortened_to_the_limit(udp: socket.socket, tmp_path: Path) -> None:
    n = _notifier(tmp_path, _channel("udp", udp.getsockname()[1], max_message_bytes=600))
    n.submit([alert(explanation="Đ=" * 3000)], now=T0)
    n.run_due(T0)
    data, _ = udp.recvfrom(65536)
    assert len(data) <= 600
    _, ext = parse_cef(data.partition(b" - alert - ")[2].decode())
    assert ext["msg"].endswith("…") and ext["cn2"] == "120"


def test_a_siem_that_is_down_is_retried_until_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    n = _notifier(tmp_path, _channel("tcp", port))
    n.submit([alert()], now=T0)
    (x,) = n.run_due(T0)
    assert x.result is State.PENDING and "ConnectionRefused" in x.error
    listener = StreamListener(port)
    try:
        (y,) = n.run_due(T0 + timedelta(seconds=30))
        assert y.result is State.DELIVERED
        (stream,) = listener.wait(1)
    finally:
        listener.close()
    assert frames(stream) == [EXPECTED]
