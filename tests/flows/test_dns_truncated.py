"""DNS messages cut short by the capture's snap length are read as far as they go.

A SPAN sensor keeping 96 bytes a frame leaves 54 bytes of a DNS message over
Ethernet/IPv4/UDP: the header and about 41 characters of the question name. Such a message
still makes a DNS event, marked ``dns.truncated_capture``, with what was captured and
nothing else; a message with less than its header is counted as unreadable.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dnskit import HEAD, damaged, messages
from flowkit import FIXTURE_DIR
from hypothesis import HealthCheck, given, settings
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from sensors.flows import dns as dnsmod
from sensors.flows.reader import FlowReader

#: Fields a cut message may have that a whole one has not.
CUT_ONLY = {"dns.truncated_capture", "phiwatch.dns.captured_bytes", "phiwatch.dns.message_bytes",
            "phiwatch.dns.question_count", "phiwatch.dns.answer_count",
            "phiwatch.dns.authority_count", "phiwatch.dns.additional_count",
            "phiwatch.dns.label_lengths", "phiwatch.dns.name_cut",
            "phiwatch.dns.cut_label_seen"}  # fmt: skip
#: Fields it may share with the whole message's (equal, or a prefix of them).
SHARED = {"dns.id", "dns.type", "dns.op_code", "dns.header_flags", "dns.response_code",
          "dns.question.name", "dns.question.type", "dns.question.class", "dns.answers",
          "dns.resolved_ip"}  # fmt: skip
ETH = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")


def _plain(payload: bytes) -> dict[str, Any] | None:
    try:
        return dnsmod._parse_plain(payload)
    except dnsmod._NotPlain:
        return None


def _check_cuts(msg: bytes) -> None:
    """Every cut of ``msg``: only the documented error, and no field that the captured
    bytes do not give."""
    whole = _plain(msg) if len(msg) >= 12 else None
    for n in range(len(msg)):
        try:
            f = dnsmod.parse_cut_dns(msg[:n], len(msg))
        except dnsmod.MalformedDNS as exc:
            assert exc.reason == ("cut_header" if n < 12 else "malformed")
            # what the plain parser reads whole, it reads cut
            assert n < 12 or whole is None, (n, msg.hex())
            continue
        assert set(f) <= CUT_ONLY | SHARED, set(f) - CUT_ONLY - SHARED
        assert f["dns.truncated_capture"] is True
        assert (f["phiwatch.dns.captured_bytes"], f["phiwatch.dns.message_bytes"]) == (n, len(msg))
        ident, flags, *counts = HEAD.unpack_from(msg)
        assert {k: v for k, v in f.items() if k in dnsmod._header_fields(ident, flags)} == (
            dnsmod._header_fields(ident, flags))
        assert [f["phiwatch.dns.question_count"], f["phiwatch.dns.answer_count"],
                f["phiwatch.dns.authority_count"], f["phiwatch.dns.additional_count"]] == counts
        assert all(0 <= n < 64 for n in f.get("phiwatch.dns.label_lengths", []))
        if whole is None:
            continue
        for key in ("dns.question.type", "dns.question.class"):
            if key in f:
                assert f[key] == whole[key]
        if "dns.question.name" in f:
            if f.get("phiwatch.dns.name_cut"):
                assert whole["dns.question.name"].startswith(f["dns.question.name"])
            else:
                assert f["dns.question.name"] == whole["dns.question.name"]
        for key in ("dns.answers", "dns.resolved_ip"):
            if key in f:
                assert f[key] == whole[key][: len(f[key])]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_every_cut_of_a_generated_message(msg: bytes) -> None:
    _check_cuts(msg)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_every_cut_of_a_damaged_message(msg: bytes) -> None:
    for n in range(len(msg)):
        with contextlib.suppress(dnsmod.MalformedDNS):
            dnsmod.parse_cut_dns(msg[:n], len(msg) + 1)


def _query(name: str, qtype: str = "A") -> bytes:
    return bytes(DNS(id=7, rd=1, qd=DNSQR(qname=name, qtype=qtype)))


def test_a_label_cut_in_the_middle() -> None:
    msg = _query("a" * 60 + ".example.org")
    f = dnsmod.parse_cut_dns(msg[:12 + 1 + 20], len(msg))
    assert f["dns.question.name"] == "a" * 20
    assert f["phiwatch.dns.label_lengths"] == [60]
    assert f["phiwatch.dns.cut_label_seen"] == 20
    assert f["phiwatch.dns.name_cut"] is True
    assert "dns.question.type" not in f
    f = dnsmod.parse_cut_dns(msg[: 12 + 61], len(msg))  # cut at the next length byte
    assert (f["dns.question.name"], f["phiwatch.dns.label_lengths"]) == ("a" * 60, [60])
    assert "phiwatch.dns.cut_label_seen" not in f


def test_a_whole_name_and_its_type_but_not_its_class() -> None:
    msg = _query("his.benh-vien.vn", "TXT")
    f = dnsmod.parse_cut_dns(msg[:-2], len(msg))
    assert (f["dns.question.name"], f["dns.question.type"]) == ("his.benh-vien.vn", "TXT")
    assert "dns.question.class" not in f and "phiwatch.dns.name_cut" not in f
    assert f["phiwatch.dns.label_lengths"] == [3, 9, 2]


def test_whole_answers_are_kept_and_the_cut_one_is_not() -> None:
    msg = bytes(DNS(id=1, qr=1, qd=DNSQR(qname="x.example.org"),
                    an=DNSRR(rrname="x.example.org", rdata="192.0.2.7")
                    / DNSRR(rrname="x.example.org", rdata="192.0.2.8")))  # fmt: skip
    f = dnsmod.parse_cut_dns(msg[:-1], len(msg))
    assert f["dns.resolved_ip"] == ["192.0.2.7"]
    assert [a["data"] for a in f["dns.answers"]] == ["192.0.2.7"]
    f = dnsmod.parse_cut_dns(msg[:40], len(msg))
    assert "dns.answers" not in f and "dns.resolved_ip" not in f  # not "no answers"


# -- in the reader --------------------------------------------------------------------


def _cut(frame: bytes, snaplen: int) -> tuple[bytes, int]:
    return frame[:snaplen], len(frame)


def test_reader_marks_cut_messages_and_counts_unreadable_ones(pcap: Callable[..., Path]) -> None:
    long = _query("d1d2d3d4e5e6f7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5.exfil.example.org", "TXT")
    ip = IP(src="10.1.1.5", dst="10.0.0.53")
    frames: list[bytes | tuple[bytes, int]] = [
        _cut(bytes(ETH / ip / UDP(sport=40001, dport=53) / long), 96),
        _cut(bytes(ETH / Dot1Q(vlan=5) / ip / UDP(sport=40002, dport=53) / long), 96),
        _cut(bytes(ETH / IPv6(src="fd00::5", dst="fd00::53") / UDP(sport=40003, dport=53)
                   / long), 96),
        _cut(bytes(ETH / ip / TCP(sport=40004, dport=53, flags="PA")
                   / (len(long).to_bytes(2, "big") + long)), 96),
        _cut(bytes(ETH / ip / UDP(sport=40005, dport=53) / long), 50),  # 8 bytes of DNS
        bytes(ETH / ip / UDP(sport=40006, dport=53) / long),  # whole
    ]  # fmt: skip
    reader = FlowReader(pcap(frames))
    dns = [e.fields for e in reader if e.get("event.dataset") == "network.dns"]
    assert [f["source.port"] for f in dns] == [40001, 40002, 40003, 40004, 40006]
    cut, whole = dns[:4], dns[4]
    assert "dns.truncated_capture" not in whole
    name = whole["dns.question.name"]
    for f in cut:
        assert f["dns.truncated_capture"] is True and f["phiwatch.dns.name_cut"] is True
        assert f["phiwatch.dns.message_bytes"] == len(long)
        assert name.startswith(f["dns.question.name"])
        assert f["dns.id"] == whole["dns.id"] and f["dns.type"] == "query"
    # 96 bytes keep 54 bytes of DNS over IPv4 (41 characters of name), 50 with a VLAN tag,
    # 34 over IPv6, 40 over TCP (after its 2-byte length)
    assert [f["phiwatch.dns.captured_bytes"] for f in cut] == [54, 50, 34, 40]
    assert [len(f["dns.question.name"]) for f in cut] == [41, 37, 21, 27]
    c = reader.counters
    assert (c.dns_events, c.dns_truncated, dict(c.dns_errors)) == (5, 4, {"cut_header": 1})


def test_the_flows_command_shows_unreadable_dns(pcap: Callable[..., Path]) -> None:
    ip = IP(src="10.1.1.5", dst="10.0.0.53")
    msg = _query("www.example.org")
    path = pcap([
        _cut(bytes(ETH / ip / UDP(sport=40001, dport=53) / msg), 50),
        bytes(ETH / ip / UDP(sport=40002, dport=53) / (b"\xde\xad" * 10)),  # not DNS
        _cut(bytes(ETH / ip / UDP(sport=40003, dport=53) / msg), 60),
    ])  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "phiwatch", "flows", "--pcap", str(path)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "(3 flows, 1 DNS, 1 of them cut short by the capture)" in proc.stderr
    assert "undecodable packets: 0" in proc.stderr
    assert "unreadable DNS messages: 2 ({'cut_header': 1, 'malformed': 1})" in proc.stderr


@pytest.mark.parametrize("snaplen", [96, 128])
def test_committed_cut_capture(snaplen: int) -> None:
    """Zeek's dns-edns-ecs.pcap cut by editcap: every message still gives an event."""
    reader = FlowReader(FIXTURE_DIR / f"dns-edns-ecs-s{snaplen}.pcap")
    dns = [e.fields for e in reader if e.get("event.dataset") == "network.dns"]
    assert len(dns) == 81 and not reader.counters.dns_errors
    cut = [f for f in dns if f.get("dns.truncated_capture")]
    assert len(cut) == reader.counters.dns_truncated == (80 if snaplen == 96 else 53)
    assert all(f["phiwatch.dns.captured_bytes"] < f["phiwatch.dns.message_bytes"] for f in cut)
    assert sum("phiwatch.dns.name_cut" in f for f in dns) == (14 if snaplen == 96 else 0)


def test_a_pointer_is_not_a_cut() -> None:
    """Bytes behind a backward pointer were all captured: running past the end there is a
    malformed name, not one the capture cut."""
    msg = HEAD.pack(1, 0x0100, 1, 0, 0, 0x3F00) + b"\xc0\x0a"  # -> a 63-byte "label" at 10
    with pytest.raises(dnsmod.MalformedDNS) as exc:
        dnsmod.parse_cut_dns(msg, 200)
    assert exc.value.reason == "malformed"
