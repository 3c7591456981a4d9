"""Zeek conn.log and dns.log, TSV and JSON, into flow and DNS events."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sensors.flows.network_model import NetworkTagger
from sensors.flows.zeek import ZeekParseError, zeek_events

T = "\t"
CONN_HEADER = "\n".join([
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
    "#open\t2026-11-23-08-00-00",
    T.join(["#fields", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
            "proto", "service", "duration", "orig_bytes", "resp_bytes", "conn_state",
            "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts",
            "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"]),
    T.join(["#types", "time", "string", "addr", "port", "addr", "port", "enum", "string",
            "interval", "count", "count", "string", "bool", "bool", "count", "string", "count",
            "count", "count", "count", "set[string]"]),
])  # fmt: skip
CONN_ROWS = [
    T.join(["1795420800.123456", "CHhAvVGS1DHFjwGM9", "10.1.1.5", "49733", "45.3.3.3", "80",
            "tcp", "http", "2.500000", "60000", "1200", "SF", "T", "F", "0", "ShADadFf", "50",
            "62600", "30", "2760", "(empty)"]),
    T.join(["1795420801.000000", "C4J4Th3PJpwUYZZ6gc", "10.1.1.5", "5353", "224.0.0.251",
            "5353", "udp", "dns", "-", "-", "-", "S0", "T", "F", "0", "D", "1", "120", "0",
            "0", "(empty)"]),
    T.join(["1795420802.000000", "CtPZjS20MLrsMUOJi2", "10.1.1.5", "8", "10.0.0.1", "0",
            "icmp", "-", "0.001", "56", "56", "OTH", "T", "T", "0", "-", "1", "84", "1", "84",
            "(empty)"]),
]  # fmt: skip
DNS_HEADER = "\n".join([
    "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
    "#path\tdns",
    T.join(["#fields", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
            "trans_id", "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode",
            "rcode_name", "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected"]),
    T.join(["#types", "time", "string", "addr", "port", "addr", "port", "enum", "count",
            "interval", "string", "count", "string", "count", "string", "count", "string",
            "bool", "bool", "bool", "bool", "count", "vector[string]", "vector[interval]",
            "bool"]),
])  # fmt: skip
DNS_ROWS = [
    T.join(["1795420800.000000", "C1", "10.1.1.5", "51676", "10.0.0.53", "53", "udp", "4242",
            "0.020000", "ftp.example.com", "1", "C_INTERNET", "1", "A", "0", "NOERROR", "F",
            "F", "T", "T", "0", "ftp-cname.example.net,143.95.79.226", "300.0,300.0", "F"]),
    T.join(["1795420801.000000", "C2", "10.1.1.5", "51677", "10.0.0.53", "53", "udp", "17",
            "-", "yrb0pe.t1.biillpi.com", "1", "C_INTERNET", "10", "NULL", "-", "-", "F", "F",
            "T", "F", "0", "-", "-", "F"]),
]  # fmt: skip


def write(tmp_path: Path, name: str, lines: list[str], *, gz: bool = False) -> Path:
    text = "\n".join(lines) + "\n"
    path = tmp_path / name
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_conn_tsv(tmp_path: Path) -> None:
    path = write(tmp_path, "conn.log", [CONN_HEADER, *CONN_ROWS, "#close\t2026-11-23-09-00-00"])
    http, mdns, icmp = list(zeek_events(path))
    f = http.fields
    assert f["event.dataset"] == "network.flow"
    assert (f["source.ip"], f["source.port"], f["destination.ip"], f["destination.port"]) == (
        "10.1.1.5",
        49733,
        "45.3.3.3",
        80,
    )
    assert (f["source.bytes"], f["destination.bytes"]) == (62600, 2760)  # IP-level bytes
    assert (f["source.packets"], f["destination.packets"]) == (50, 30)
    assert f["network.transport"] == "tcp" and f["network.iana_number"] == "6"
    assert f["network.protocol"] == "http"
    assert f["event.duration"] == 2_500_000_000
    assert f["event.start"] == "2026-11-23T08:00:00.123456Z"
    assert f["event.end"] == "2026-11-23T08:00:02.623456Z"
    assert f["zeek.session_id"] == "CHhAvVGS1DHFjwGM9"
    assert http.ref == f"{path}:9"
    assert http.epoch == pytest.approx(1795420800.123456)
    # unset duration and bytes: zero, not a crash
    assert mdns.fields["event.duration"] == 0 and mdns.fields["destination.bytes"] == 0
    assert "source.port" not in icmp.fields and icmp.fields["network.transport"] == "icmp"
    # the same event id on a second read: replays do not duplicate
    assert [e.id for e in zeek_events(path)] == [http.id, mdns.id, icmp.id]


def test_conn_json_and_gzip(tmp_path: Path) -> None:
    lines = [
        '{"ts":1795420800.123456,"uid":"CHh","id.orig_h":"10.1.1.5","id.orig_p":49733,'
        '"id.resp_h":"45.3.3.3","id.resp_p":80,"proto":"tcp","duration":2.5,'
        '"orig_bytes":60000,"resp_bytes":1200,"conn_state":"SF","orig_pkts":50,'
        '"orig_ip_bytes":62600,"resp_pkts":30,"resp_ip_bytes":2760}',
        '{"ts":"2026-11-23T08:00:05.000000Z","uid":"CX","id.orig_h":"10.1.1.6",'
        '"id.orig_p":1,"id.resp_h":"8.8.8.8","id.resp_p":443,"proto":"tcp","orig_bytes":10,'
        '"resp_bytes":20,"conn_state":"SF"}',
    ]
    path = write(tmp_path, "conn.04:00:00-05:00:00.log.gz", lines, gz=True)
    a, b = list(zeek_events(path))
    assert a.fields["source.bytes"] == 62600 and a.fields["event.duration"] == 2_500_000_000
    assert b.epoch == 1795420805.0
    assert b.fields["source.bytes"] == 10  # no orig_ip_bytes: payload bytes


def test_dns_tsv_gives_query_and_answer(tmp_path: Path) -> None:
    path = write(tmp_path, "dns.log", [DNS_HEADER, *DNS_ROWS])
    q1, a1, q2 = list(zeek_events(path))
    assert q1.fields["dns.type"] == "query"
    assert q1.fields["dns.question.name"] == "ftp.example.com"
    assert q1.fields["dns.question.type"] == "A"
    assert q1.fields["dns.id"] == "4242"
    assert a1.fields["dns.type"] == "answer" and a1.fields["dns.response_code"] == "NOERROR"
    assert a1.fields["dns.resolved_ip"] == ["143.95.79.226"]
    assert a1.epoch == pytest.approx(q1.epoch + 0.02)
    assert q2.fields["dns.question.type"] == "NULL"  # unanswered: no answer event
    # tagged as the capture's events are: passive DNS names the later flow
    tagger = NetworkTagger()
    for ev in (q1, a1, q2):
        tagger.tag(ev)
    assert q2.fields["dns.question.registered_domain"] == "biillpi.com"
    conn = write(
        tmp_path, "conn.log", [CONN_HEADER, CONN_ROWS[0].replace("45.3.3.3", "143.95.79.226")]
    )
    (flow,) = list(zeek_events(conn))
    assert tagger.tag(flow).fields["destination.domain"] == "ftp.example.com"


def test_dns_json(tmp_path: Path) -> None:
    line = ('{"ts":1795420800.0,"uid":"C1","id.orig_h":"10.1.1.5","id.orig_p":5,'
            '"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","trans_id":7,'
            '"query":"www.example.com","qtype_name":"AAAA","rcode":3,"answers":[]}')  # fmt: skip
    q, a = list(zeek_events(write(tmp_path, "x.log", [line])))
    assert q.fields["dns.question.type"] == "AAAA"
    assert a.fields["dns.response_code"] == "NXDOMAIN" and "dns.resolved_ip" not in a.fields


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        ([CONN_HEADER, CONN_ROWS[0], "only\tthree\tvalues"], 10, "3 values for 21 fields"),
        ([CONN_HEADER, CONN_ROWS[0].replace("49733", "http")], 9, "id.orig_p (port)"),
        ([CONN_HEADER, CONN_ROWS[0].replace("\tT\tF\t", "\tyes\tF\t")], 9, "local_orig"),
        (["1795420800.0\tC1\t10.1.1.5"], 1, "before the #fields header"),
        (['{"ts": 1795420800, "id.orig_h": "10.1.1.5"'], 1, "not JSON"),
        (['{"foo": 1}'], 1, "neither a conn.log nor a dns.log"),
        (
            [
                '{"ts": "yesterday", "uid": "C", "conn_state": "SF", "id.orig_h": "10.0.0.1",'
                ' "id.resp_h": "10.0.0.2"}'
            ],
            1,
            "yesterday",
        ),
        (
            ['{"ts": 1795420800, "conn_state": "SF", "id.orig_h": 5, "id.resp_h": "1.1.1.1"}'],
            1,
            "id.orig_h",
        ),
        (
            ['{"ts": null, "query": "x.example", "id.orig_h": "1.1.1.1", "id.resp_h": "1.1.1.1"}'],
            1,
            "not a time",
        ),
    ],
)
def test_bad_lines_name_their_line(tmp_path: Path, lines: list[str], line: int, words: str
                                   ) -> None:  # fmt: skip
    path = write(tmp_path, "bad.log", lines)
    with pytest.raises(ZeekParseError) as err:
        list(zeek_events(path))
    assert err.value.line == line and err.value.path == str(path)
    assert words in str(err.value) and str(err.value).startswith(f"{path}:{line}: ")


def test_bad_lines_go_to_on_error_and_the_rest_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "conn.log", [CONN_HEADER, "garbage", CONN_ROWS[0], "{not json",
                                        CONN_ROWS[1], "\x00\x01"])  # fmt: skip
    errors: list[ZeekParseError] = []
    events = list(zeek_events(path, on_error=errors.append))
    assert len(events) == 2
    assert [e.line for e in errors] == [9, 11, 13]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    path.write_bytes((DNS_HEADER + "\n" + DNS_ROWS[1]).encode().replace(b"yrb0pe", b"yr\xff"))
    q = next(iter(zeek_events(path)))
    assert q.fields["dns.question.name"].startswith("yr\\xff")
