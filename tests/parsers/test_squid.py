"""Squid access.log lines (native and combined) into network.proxy events; bad lines named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sensors.deadletter import DeadLetter
from sensors.event import Event
from sensors.file_source import FileSource
from sensors.formats import FileParser, format_config
from sensors.parsers import ParseError, SquidParser, SquidParserConfig, parser_for
from sensors.split import Split

NATIVE = SquidParserConfig(format="squid")
COMBINED = SquidParserConfig(format="squid", logformat="combined")

# Lines as Squid 6 writes them with the built-in 'squid' and 'combined' logformats.
PASTE = (b"1795405200.123    180 10.20.3.45 TCP_MISS/200 4120 GET "
         b"http://pastebin.com/raw/Xy12AbCd.txt?dl=1 - HIER_DIRECT/104.20.67.143 text/plain")
TUNNEL = (b"1795405260.500  60020 10.20.3.45 TCP_TUNNEL/200 39876 CONNECT "
          b"www.dropbox.com:443 nv01234 HIER_DIRECT/162.125.4.18 -")
INVALID = (b"1795405270.001      0 10.20.3.46 NONE_NONE/400 3896 NONE error:invalid-request "
           b"- HIER_NONE/- text/html")
RCLONE = (b'10.20.3.45 - nv01234 [23/Nov/2026:08:15:02 +0700] "PUT '
          b'http://s3.example-cloud.net/bucket/benh_an.zip HTTP/1.1" 200 512 "-" '
          b'"rclone/v1.66.0" TCP_MISS:HIER_DIRECT')


def parse(line: bytes, config: SquidParserConfig = NATIVE) -> Event:
    events = SquidParser(config).parse(line, "access.log:1")
    assert len(events) == 1
    return events[0]


def test_native_line() -> None:
    e = parse(PASTE)
    assert e.timestamp == datetime(2026, 11, 23, 3, 40, 0, 123000, tzinfo=UTC)
    assert e.ref == "access.log:1" and e.id == e.fields["event.id"]
    assert e.fields == {
        "event.dataset": "network.proxy", "event.kind": "event",
        "event.category": ["network", "web"], "event.type": ["access"],
        "event.duration": 180_000_000, "source.ip": "10.20.3.45",
        "squid.result_code": "TCP_MISS", "squid.hierarchy_code": "HIER_DIRECT",
        "http.request.method": "GET", "http.response.status_code": 200,
        "http.response.bytes": 4120, "http.response.mime_type": "text/plain",
        "url.original": "http://pastebin.com/raw/Xy12AbCd.txt?dl=1", "url.scheme": "http",
        "url.domain": "pastebin.com", "url.path": "/raw/Xy12AbCd.txt", "url.query": "dl=1",
        "url.extension": "txt", "destination.ip": "104.20.67.143", "event.id": e.id,
    }  # fmt: skip


def test_connect_is_host_and_port_only() -> None:
    f = parse(TUNNEL).fields
    assert (f["http.request.method"], f["url.domain"], f["url.port"]) == (
        "CONNECT", "www.dropbox.com", 443)
    assert "url.path" not in f and "url.scheme" not in f and "http.response.mime_type" not in f
    assert f["user.name"] == "nv01234" and f["event.duration"] == 60_020_000_000


def test_squid_error_markers_and_absent_reply() -> None:
    f = parse(INVALID).fields
    assert f["url.original"] == "error:invalid-request" and "url.domain" not in f
    assert f["squid.hierarchy_code"] == "HIER_NONE" and "destination.ip" not in f
    aborted = parse(b"1795405270.001 5 10.20.3.46 TCP_MISS_ABORTED/000 0 GET "
                    b"http://a.example.org/ - HIER_DIRECT/192.0.2.9 -").fields
    assert "http.response.status_code" not in aborted and aborted["http.response.bytes"] == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1795405200.1 1 ws-san-a-03.bv.local TCP_MISS/200 1 GET http://a.org/ - "
         b"FIRSTUP_PARENT/proxy2.bv.local -",
         {"source.domain": "ws-san-a-03.bv.local", "destination.domain": "proxy2.bv.local"}),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ BV%5Cnv01 "
         b"HIER_DIRECT/2001:db8::1 -",
         {"user.name": "BV\\nv01", "destination.ip": "2001:db8::1"}),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET http://[2001:db8::5]:8080/a b.tar.gz - "
         b"HIER_DIRECT/2001:db8::5 -",
         {"url.domain": "2001:db8::5", "url.port": 8080, "url.path": "/a b.tar.gz",
          "url.extension": "gz"}),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET /.profile - HIER_DIRECT/10.0.0.2 -",
         {"url.path": "/.profile"}),
    ],
)
def test_native_variants(line: bytes, expected: dict[str, Any]) -> None:
    f = parse(line).fields
    assert {k: f.get(k) for k in expected} == expected
    assert "url.extension" in f or "url.extension" not in expected


def test_combined_line() -> None:
    e = parse(RCLONE, COMBINED)
    assert e.timestamp == datetime(2026, 11, 23, 1, 15, 2, tzinfo=UTC)
    f = e.fields
    assert f["user_agent.original"] == "rclone/v1.66.0" and "http.request.referrer" not in f
    assert (f["http.request.method"], f["http.version"], f["url.extension"]) == (
        "PUT", "1.1", "zip")
    assert (f["squid.result_code"], f["squid.hierarchy_code"]) == ("TCP_MISS", "HIER_DIRECT")
    assert f["user.name"] == "nv01234" and f["source.ip"] == "10.20.3.45"
    assert "event.duration" not in f and "destination.ip" not in f  # not in this layout


def test_combined_empty_and_absent_headers_and_ident() -> None:
    f = parse(b'10.0.0.7 ident7 - [01/Jan/2027:00:00:00 -0130] "GET http://a.org/ HTTP/1.0" '
              b'304 0 "" "" TCP_REFRESH_UNMODIFIED:HIER_DIRECT', COMBINED).fields
    assert f["user_agent.original"] == "" and f["http.request.referrer"] == ""
    assert f["user.name"] == "ident7"
    quoted = parse(b'10.0.0.7 - - [01/Jan/2027:00:00:00 +0000] "GET http://a.org/ HTTP/1.1" '
                   b'200 9 "http://r.org/?q=\\"x\\"" "Mozilla/5.0 (\\"quoted\\")" '
                   b'TCP_MISS:HIER_DIRECT', COMBINED).fields
    assert quoted["user_agent.original"] == 'Mozilla/5.0 (\\"quoted\\")'


def test_blank_lines_and_bom() -> None:
    assert SquidParser().parse(b"   ", "x:1") == []
    assert parse(b"\xef\xbb\xbf" + PASTE).fields["url.domain"] == "pastebin.com"


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (b"yesterday 180 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ - HIER_DIRECT/1.2.3.4 -",
         "@timestamp", "seconds since 1970"),
        (b"8000000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ - HIER_DIRECT/- -",
         "@timestamp", "outside the years"),
        (b"1795405200.1 1.5 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ - HIER_DIRECT/- -",
         "event.duration", "milliseconds"),
        (b"1795405200.1 1 10.0.0.1? TCP_MISS/200 1 GET http://a.org/ - HIER_DIRECT/- -",
         "source.ip", "client"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS 1 GET http://a.org/ - HIER_DIRECT/- -",
         "squid.result_code", "TCP_MISS/200"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/2000 1 GET http://a.org/ - HIER_DIRECT/- -",
         "http.response.status_code", "three digits"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 -1 GET http://a.org/ - HIER_DIRECT/- -",
         "http.response.bytes", "bytes"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET http://a.org:99999/ - HIER_DIRECT/- -",
         "url.original", "malformed"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 CONNECT a.org:70000 - HIER_DIRECT/- -",
         "url.port", "out of range"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ - DIRECT -",
         "squid.hierarchy_code", "HIER_DIRECT/"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET http://a.org/ - HIER_DIRECT/a?b -",
         "destination.ip", "peer host"),
        (b"1795405200.1 1 10.0.0.1 TCP_MISS/200 1 GET", None, "10 fields"),
    ],
)
def test_bad_native_lines_name_the_field(line: bytes, field: str | None, words: str) -> None:
    with pytest.raises(ParseError) as info:
        SquidParser().parse(line, "x:1")
    assert info.value.field == field
    assert words in info.value.reason


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (b'10.0.0.1 - - [31/Feb/2026:00:00:00 +0700] "GET http://a.org/ HTTP/1.1" 200 1 "-" '
         b'"-" TCP_MISS:HIER_DIRECT', "@timestamp", "does not exist"),
        (b'10.0.0.1 - - [01/Foo/2026:00:00:00 +0700] "GET http://a.org/ HTTP/1.1" 200 1 "-" '
         b'"-" TCP_MISS:HIER_DIRECT', "@timestamp", "22/Nov/2026"),
        (b'10.0.0.1 - - [01/Nov/2026:00:00:00 +0700] "GET http://a.org/" 200 1 "-" "-" '
         b'TCP_MISS:HIER_DIRECT', "http.request.method", "HTTP/version"),
        (b'10.0.0.1 - - [01/Nov/2026:00:00:00 +0700] "GET http://a.org/ HTTP/1.1" 200 1 "-" '
         b'"-" TCP_MISS', "squid.result_code", "TCP_MISS:HIER_DIRECT"),
        (b'nobody home [01/Nov/2026:00:00:00 +0700] "GET / HTTP/1.1" 200 1 "-" "-" A:B', None,
         "not a Squid 'combined' line"),
    ],
)
def test_bad_combined_lines_name_the_field(line: bytes, field: str | None, words: str) -> None:
    with pytest.raises(ParseError) as info:
        SquidParser(COMBINED).parse(line, "x:1")
    assert info.value.field == field
    assert words in info.value.reason


def test_the_wrong_logformat_is_hinted() -> None:
    with pytest.raises(ParseError, match="is it logformat squid"):
        SquidParser(COMBINED).parse(PASTE, "x:1")
    with pytest.raises(ParseError, match="is it logformat combined"):
        SquidParser(NATIVE).parse(RCLONE, "x:1")


def test_invalid_utf8() -> None:
    with pytest.raises(ParseError, match="invalid UTF-8 at byte 44") as info:
        SquidParser().parse(PASTE[:44] + b"\xff" + PASTE[45:], "x:1")
    assert info.value.field is None


def test_configuration() -> None:
    assert format_config({"format": "squid"}) == NATIVE
    assert isinstance(parser_for(format_config(
        {"format": "squid", "logformat": "combined", "timezone": "UTC"})), SquidParser)
    with pytest.raises(ValidationError, match="logformat"):
        format_config({"format": "squid", "logformat": "icap"})
    config = SquidParserConfig(format="squid", organization_id="tu-du")
    assert parse(PASTE, config).fields["organization.id"] == "tu-du"


def test_bad_lines_go_to_the_dead_letter_file_and_the_rest_is_read(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"\n".join([PASTE, b"1795405200.1 1 10.0.0.1 TCP_MISS/200 -1 GET "
                                b"http://a.org/ - HIER_DIRECT/- -", TUNNEL, b""]))
    dead = DeadLetter(tmp_path / "dead" / "dead.ndjson")
    factory: Callable[[str], FileParser] = (  # noqa: E731
        lambda p: FileParser(lines=SquidParser(NATIVE)))
    splits: list[Split] = []
    source = FileSource([str(log)], factory, dead, on_split=splits.append)
    source.scan()
    source.fill(100, 1000)
    events = splits[0].pending
    assert [e.fields["url.domain"] for e in events] == ["pastebin.com", "www.dropbox.com"]
    dead.flush()
    entries = [orjson.loads(x) for x in dead.path.read_bytes().splitlines()]
    assert [(e["line"], e["field"]) for e in entries] == [(2, "http.response.bytes")]
    assert "size is not a whole number of bytes: '-1'" in entries[0]["reason"]
    source.close()


_PIECES = [PASTE, TUNNEL, INVALID, RCLONE]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PIECES), st.integers(0, 200), st.binary(max_size=8),
       st.booleans())  # fmt: skip
def test_any_mangled_line_is_an_event_or_a_parse_error(
    line: bytes, at: int, junk: bytes, combined: bool
) -> None:
    mangled = line[:at] + junk + line[at + len(junk):]
    try:
        events = SquidParser(COMBINED if combined else NATIVE).parse(mangled, "x:1")
    except ParseError:
        return
    assert all(e.fields["event.dataset"] == "network.proxy" for e in events)
