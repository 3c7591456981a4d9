"""Zeek ``conn.log`` and ``dns.log`` into the same ``network.flow``/``network.dns`` events
as a capture gives.

Why: many hospitals already run Zeek on their SPAN port; importing its logs gives the
network rules their events without a second sensor on the wire. Both of Zeek's writers are
read: the TSV one (``#separator``, ``#set_separator``, ``#empty_field``, ``#unset_field``,
``#path``, ``#fields``, ``#types`` headers; ``-`` unset, ``(empty)`` empty) and JSON lines
(``LogAscii::use_json``; ``ts`` as epoch seconds or ISO 8601). Gzipped rotated logs too.

Mapping choices: ``source.bytes``/``destination.bytes`` are Zeek's ``orig_ip_bytes`` /
``resp_ip_bytes`` (IP-level, the closest to the capture reader's frame bytes; payload
``orig_bytes`` when the IP-level count is unset). A ``dns.log`` row is one transaction, so
it becomes a query event and, when answered, an answer event — as the capture reader
yields them — so the query-counting DNS rules and the passive-DNS naming of flows work
alike. A bad line raises :class:`ZeekParseError` naming the file and line, or, with
``on_error``, is handed to it and the import goes on.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from sensors.event import NETWORK_DNS, NETWORK_FLOW, Event
from sensors.flows.dns import RCODES
from sensors.flows.flowtable import TRANSPORTS, _flow_id, _iso
from sensors.parsers.base import ParseError

_IANA = {name: number for number, name in TRANSPORTS.items()}
_IANA["icmp6"] = 58


class ZeekParseError(ParseError):
    """A line of a Zeek log that cannot become an event."""

    def __init__(self, path: str, line: int, reason: str, field: str | None = None) -> None:
        super().__init__(f"{path}:{line}: {reason}", field)
        self.path = path
        self.line = line


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="backslashreplace")
    return open(path, encoding="utf-8", errors="backslashreplace")


def _unescape(text: str) -> str:
    r"""The ``#separator`` directive names its character as ``\xNN``."""
    if "\\x" not in text:
        return text
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


class _Header:
    """What the ``#`` lines of a TSV log say."""

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path = ""
        self.fields: list[str] = []
        self.types: list[str] = []

    def directive(self, line: str) -> None:
        if line.startswith("#separator "):  # the one directive separated by a space
            self.separator = _unescape(line[len("#separator ") :].strip())
            return
        key, _, value = line[1:].partition(self.separator)
        if key == "set_separator":
            self.set_separator = value
        elif key == "empty_field":
            self.empty = value
        elif key == "unset_field":
            self.unset = value
        elif key == "path":
            self.path = value
        elif key == "fields":
            self.fields = value.split(self.separator)
        elif key == "types":
            self.types = value.split(self.separator)


def _convert(text: str, kind: str, header: _Header) -> Any:
    if text == header.unset:
        return None
    if kind.startswith(("set[", "vector[")):
        if text == header.empty:
            return []
        inner = kind[kind.index("[") + 1 : -1]
        return [_convert(item, inner, header) for item in text.split(header.set_separator)]
    if text == header.empty and kind in ("string", "enum"):
        return ""
    if kind in ("count", "int", "port"):
        return int(text)
    if kind in ("time", "interval", "double"):
        return float(text)
    if kind == "bool":
        if text not in ("T", "F"):
            raise ValueError(f"bool {text!r} is neither T nor F")
        return text == "T"
    # Zeek writes unprintable bytes as \xNN: kept as written, which is also how the capture
    # reader shows them (backslashreplace), so one name reads the same from both.
    return text


def _records(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | str]]:
    """(line number, log path, record) per data line; a record that does not parse is the
    reason instead of a dict."""
    header = _Header()
    with _open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line:
                continue
            if line.startswith("{"):
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    yield number, header.path, f"not JSON: {e}"
                    continue
                yield number, header.path, doc if isinstance(doc, dict) else "not a JSON object"
            elif line.startswith("#"):
                header.directive(line)
            elif not header.fields:
                yield number, header.path, "a data line before the #fields header"
            else:
                values = line.split(header.separator)
                if len(values) != len(header.fields):
                    yield (
                        number,
                        header.path,
                        (f"{len(values)} values for {len(header.fields)} fields"),
                    )
                    continue
                types = header.types or ["string"] * len(values)
                rec: dict[str, Any] = {}
                try:
                    for name, kind, text in zip(header.fields, types, values, strict=False):
                        rec[name] = _convert(text, kind, header)
                except ValueError as e:
                    yield number, header.path, f"field {name} ({kind}): {e}"
                    continue
                yield number, header.path, rec


def _kind(log_path: str, rec: dict[str, Any], file_name: str) -> str:
    if log_path in ("conn", "dns"):
        return log_path
    if "query" in rec or "qtype_name" in rec or "trans_id" in rec:
        return "dns"
    if "conn_state" in rec or "orig_bytes" in rec or "orig_pkts" in rec:
        return "conn"
    return "conn" if file_name.startswith("conn") else "dns" if file_name.startswith("dns") else ""


def _time(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"ts {value!r} is not a time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    raise ValueError(f"ts {value!r} is not a time")


def _int(rec: dict[str, Any], name: str) -> int | None:
    v = rec.get(name)
    if v is None or isinstance(v, bool):
        return None
    return int(v)


def _endpoints(rec: dict[str, Any]) -> tuple[str, int | None, str, int | None]:
    src, dst = rec.get("id.orig_h"), rec.get("id.resp_h")
    if not isinstance(src, str) or not isinstance(dst, str):
        raise ValueError("id.orig_h and id.resp_h must be addresses")
    return src, _int(rec, "id.orig_p"), dst, _int(rec, "id.resp_p")


def conn_event(rec: dict[str, Any], ref: str) -> Event:
    """The ``network.flow`` event of one ``conn.log`` record; raises ValueError."""
    ts = _time(rec.get("ts"))
    src, sport, dst, dport = _endpoints(rec)
    proto_name = str(rec.get("proto") or "").lower()
    proto = _IANA.get(proto_name, 0)
    duration = float(rec.get("duration") or 0.0)
    a_bytes = _int(rec, "orig_ip_bytes")
    b_bytes = _int(rec, "resp_ip_bytes")
    if a_bytes is None:
        a_bytes = _int(rec, "orig_bytes") or 0
    if b_bytes is None:
        b_bytes = _int(rec, "resp_bytes") or 0
    a_pkts, b_pkts = _int(rec, "orig_pkts") or 0, _int(rec, "resp_pkts") or 0
    uid = str(rec.get("uid") or "")
    fid = _flow_id(proto, src, sport or 0, dst, dport or 0, ts)
    fields: dict[str, Any] = {
        "event.dataset": NETWORK_FLOW, "event.kind": "event",
        "event.category": ["network"], "event.type": ["connection", "end"],
        "event.start": _iso(ts), "event.end": _iso(ts + duration),
        "event.duration": round(duration * 1e9),
        "source.ip": src, "source.bytes": a_bytes, "source.packets": a_pkts,
        "destination.ip": dst, "destination.bytes": b_bytes, "destination.packets": b_pkts,
        "network.transport": proto_name or "unknown",
        "network.type": "ipv6" if ":" in src else "ipv4",
        "network.bytes": a_bytes + b_bytes, "network.packets": a_pkts + b_pkts,
        "flow.id": fid, "flow.final": True,
        "phiwatch.flow.end_reason": "zeek",
    }  # fmt: skip
    if proto:
        fields["network.iana_number"] = str(proto)
    if proto_name in ("tcp", "udp", "sctp") and sport is not None and dport is not None:
        fields["source.port"], fields["destination.port"] = sport, dport
    if rec.get("service"):
        fields["network.protocol"] = str(rec["service"]).split(",")[0]
    state = rec.get("conn_state")
    if isinstance(state, str) and state:
        fields["zeek.conn.state"] = state
    for zeek_name, ecs in (("vlan", "network.vlan.id"), ("inner_vlan", "network.inner.vlan.id")):
        if rec.get(zeek_name) is not None:
            fields[ecs] = str(rec[zeek_name])
    if uid:
        fields["zeek.session_id"] = uid
    return Event(datetime.fromtimestamp(ts, UTC), fields, ref=ref, id=fid)


def dns_events(rec: dict[str, Any], ref: str) -> list[Event]:
    """The query event and, when answered, the answer event of one ``dns.log`` record."""
    ts = _time(rec.get("ts"))
    src, sport, dst, dport = _endpoints(rec)
    base: dict[str, Any] = {
        "event.dataset": NETWORK_DNS, "event.kind": "event",
        "event.category": ["network"], "event.type": ["protocol"],
        "network.protocol": "dns", "network.transport": str(rec.get("proto") or "udp"),
        "network.type": "ipv6" if ":" in src else "ipv4",
        "source.ip": src, "destination.ip": dst,
    }  # fmt: skip
    if sport is not None and dport is not None:
        base["source.port"], base["destination.port"] = sport, dport
    if rec.get("trans_id") is not None:
        base["dns.id"] = str(rec["trans_id"])
    query = rec.get("query")
    if isinstance(query, str) and query:
        base["dns.question.name"] = query.rstrip(".") if len(query) > 1 else query
        qtype = rec.get("qtype_name") or rec.get("qtype")
        if qtype is not None:
            base["dns.question.type"] = str(qtype)
        if rec.get("qclass_name"):
            base["dns.question.class"] = str(rec["qclass_name"])
    if rec.get("uid"):
        base["zeek.session_id"] = str(rec["uid"])
    stamp = datetime.fromtimestamp(ts, UTC)
    key = f"{ts:.6f}|{src}|{sport}|{dst}|{dport}|{base.get('dns.id')}|{query}"
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    out = [Event(stamp, {**base, "dns.type": "query"}, ref=ref, id=digest + "q")]
    rcode = rec.get("rcode_name") or (RCODES.get(rec["rcode"]) if isinstance(
        rec.get("rcode"), int) else None)  # fmt: skip
    answers = rec.get("answers") or []
    if rcode is not None or answers:
        fields = {**base, "dns.type": "answer"}
        if rcode is not None:
            fields["dns.response_code"] = str(rcode)
        if answers:
            data = [str(a) for a in answers]
            fields["dns.answers"] = [{"data": a} for a in data]
            resolved = [a for a in data if _is_ip(a)]
            if resolved:
                fields["dns.resolved_ip"] = resolved
        rtt = rec.get("rtt")
        when = datetime.fromtimestamp(ts + float(rtt), UTC) if isinstance(rtt, float) else stamp
        out.append(Event(when, fields, ref=ref, id=digest + "a"))
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def zeek_events(
    path: str | Path, *, on_error: Callable[[ZeekParseError], None] | None = None,
) -> Iterator[Event]:  # fmt: skip
    """Flow and DNS events of a Zeek ``conn.log`` or ``dns.log`` (TSV or JSON lines,
    optionally gzipped), in file order. Which log it is comes from ``#path``, else from
    the record's fields, else from the file name. A bad line raises
    :class:`ZeekParseError`, or is passed to ``on_error`` and skipped."""
    path = Path(path)
    name = str(path)
    for number, log_path, rec in _records(path):
        ref = f"{name}:{number}"
        try:
            if isinstance(rec, str):
                raise ValueError(rec)
            kind = _kind(log_path, rec, path.name)
            if kind == "conn":
                yield conn_event(rec, ref)
            elif kind == "dns":
                yield from dns_events(rec, ref)
            else:
                raise ValueError("neither a conn.log nor a dns.log record")
        except (ValueError, TypeError, OverflowError) as e:
            err = ZeekParseError(name, number, str(e))
            if on_error is None:
                raise err from None
            on_error(err)
