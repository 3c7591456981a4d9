"""Squid web proxy access logs: one request per line, into ECS ``network.proxy`` events.

Why: a hospital's staff reach the internet through its web proxy, so the proxy log is where
an upload of patient files to a paste site or a personal cloud shows up by name, and the
community Sigma rules for ``category: proxy`` (mapped by ``rules.taxonomy``) read it.

Two layouts, chosen by ``logformat`` in the source's ``parse:`` section:

``squid`` — Squid's native format (``logformat squid``, the default of ``access_log``)::

    time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type
    1795405200.123    180 10.20.3.45 TCP_MISS/200 4120 GET http://paste.ee/r/x - \
        HIER_DIRECT/104.20.1.2 text/plain                                (one line)

``combined`` — Squid's built-in Apache-style ``logformat combined``, which adds the
Referer and the User-Agent that many community rules need (``c-useragent``)::

    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh

Fields: ``source.ip`` (or ``source.domain`` with ``log_fqdn``), ``user.name`` (the proxy
login, else the ident answer), ``http.request.method``, ``url.original`` and its parts
(``url.scheme``, ``url.domain``, ``url.port``, ``url.path``, ``url.query``,
``url.extension``), ``http.response.status_code`` (absent when Squid wrote ``000``: no
reply), ``http.response.bytes`` (what Squid sent to the client), ``squid.result_code`` and
``squid.hierarchy_code``; native lines add ``event.duration`` (from the elapsed
milliseconds), ``destination.ip`` (the server or parent proxy Squid forwarded to) and
``http.response.mime_type``; combined lines add ``http.version``,
``http.request.referrer`` and ``user_agent.original``. ``-`` means absent; a quoted empty
header (``""``) is kept as an empty string. HTTPS through the proxy is a ``CONNECT`` whose
URL is only ``host:port``: without SSL bumping, paths are never seen.

A line that is not of the configured layout raises ``ParseError`` naming the field, and
goes to the dead-letter file like any other unreadable record.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from sensors.event import NETWORK_PROXY, Event
from sensors.parsers.base import ParseError, fingerprint, show
from sensors.parsers.config import SquidParserConfig
from sensors.timestamps import MAX_YEAR, MIN_YEAR

DATASET = NETWORK_PROXY
_BOM = "\ufeff"
_CODE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\Z")
_AUTHORITY = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s\[\]]+):(?P<port>\d{1,5})\Z")
_COMBINED = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>[^"]*)" (?P<status>\S+) (?P<bytes>\S+) '
    r'"(?P<referrer>.*?)" "(?P<agent>.*)" (?P<squid>\S+)\Z'
)
_LOCAL_TIME = re.compile(
    r"(?P<d>\d{1,2})/(?P<mon>[A-Za-z]{3})/(?P<y>\d{4}):(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r" (?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2})\Z"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _fail(what: str, value: str, field: str, hint: str = "") -> ParseError:
    return ParseError(f"{what} {show(value)}{hint}", field)


class SquidParser:
    """Parses one Squid access-log line (``logformat squid`` or ``combined``) per call."""

    __slots__ = ("_combined", "_organization")

    def __init__(self, config: SquidParserConfig | None = None) -> None:
        config = config or SquidParserConfig(format="squid")
        self._combined = config.logformat == "combined"
        self._organization = config.organization_id

    def parse(self, line: bytes, ref: str) -> list[Event]:
        """The event of one line (none for a blank line), or ``ParseError``."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"invalid UTF-8 at byte {e.start}") from None
        text = text.removeprefix(_BOM).strip()
        if not text:
            return []
        fields: dict[str, Any] = {
            "event.dataset": DATASET, "event.kind": "event",
            "event.category": ["network", "web"], "event.type": ["access"],
        }  # fmt: skip
        if self._combined:
            when = self._combined_line(text, fields)
        else:
            try:
                when = _native(text, fields)
            except ParseError as e:
                if _COMBINED.match(text) is None:
                    raise
                raise ParseError(f"{e.reason} (is it logformat combined?)", e.field) from None
        if self._organization is not None:
            fields["organization.id"] = self._organization
        eid = fields["event.id"] = fingerprint(line)
        return [Event(when, fields, ref, eid)]

    @staticmethod
    def _combined_line(text: str, fields: dict[str, Any]) -> datetime:
        m = _COMBINED.match(text)
        if m is None:
            hint = " (is it logformat squid?)" if _looks_native(text) else ""
            raise ParseError(
                "not a Squid 'combined' line: expected client ident user [time] \"request\" "
                f"status bytes \"referrer\" \"user-agent\" code:hierarchy{hint}"
            )
        when = _local_time(m["time"])
        _client(m["client"], fields)
        user = m["user"] if m["user"] != "-" else m["ident"]
        if user != "-":
            fields["user.name"] = unquote(user)
        method, _, rest = m["request"].partition(" ")
        url, sep, version = rest.rpartition(" HTTP/")
        if not method or not sep or not url:
            raise _fail("request line is not 'METHOD URL HTTP/version':", m["request"],
                        "http.request.method")
        fields["http.request.method"] = method
        fields["http.version"] = version
        _url(url, method, fields)
        _status(m["status"], fields)
        _bytes(m["bytes"], fields)
        if m["referrer"] != "-":
            fields["http.request.referrer"] = m["referrer"]
        if m["agent"] != "-":
            fields["user_agent.original"] = m["agent"]
        code, sep, hierarchy = m["squid"].partition(":")
        if not sep or not _CODE.match(code) or not _CODE.match(hierarchy):
            raise _fail("squid code:hierarchy is not like TCP_MISS:HIER_DIRECT:", m["squid"],
                        "squid.result_code")
        fields["squid.result_code"] = code
        fields["squid.hierarchy_code"] = hierarchy
        return when


def _looks_native(text: str) -> bool:
    head = text.split(None, 1)[0]
    return head.replace(".", "", 1).isdigit()


def _native(text: str, fields: dict[str, Any]) -> datetime:
    """A ``logformat squid`` line. The URL is what lies between the sixth field from the
    left and the third from the right, so an unescaped space in it is tolerated."""
    parts = text.split()
    if len(parts) < 10:
        raise ParseError(f"a Squid native line has 10 fields, this one has {len(parts)}: "
                         "time elapsed client code/status bytes method URL user "
                         "hierarchy/peer type")
    stamp, elapsed, client, code_status, size, method = parts[:6]
    user, peer, mime = parts[-3:]
    url = " ".join(parts[6:-3])
    when = _epoch(stamp)
    if not elapsed.isdigit() or not elapsed.isascii():
        raise _fail("elapsed time is not a whole number of milliseconds:", elapsed,
                    "event.duration")
    fields["event.duration"] = int(elapsed) * 1_000_000
    _client(client, fields)
    code, sep, status = code_status.partition("/")
    if not sep or not _CODE.match(code):
        raise _fail("result code/status is not like TCP_MISS/200:", code_status,
                    "squid.result_code")
    fields["squid.result_code"] = code
    _status(status, fields)
    _bytes(size, fields)
    fields["http.request.method"] = method
    _url(url, method, fields)
    if user != "-":
        fields["user.name"] = unquote(user)
    hierarchy, sep, host = peer.partition("/")
    if not sep or not _CODE.match(hierarchy):
        raise _fail("hierarchy/peer is not like HIER_DIRECT/192.0.2.1:", peer,
                    "squid.hierarchy_code")
    fields["squid.hierarchy_code"] = hierarchy
    if host != "-":
        if _is_ip(host):
            fields["destination.ip"] = host
        elif _HOST.match(host):
            fields["destination.domain"] = host.lower()
        else:
            raise _fail("peer host is neither an address nor a host name:", host,
                        "destination.ip")
    if mime != "-":
        fields["http.response.mime_type"] = mime
    return when


def _epoch(stamp: str) -> datetime:
    try:
        seconds = float(stamp)
        when = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise _fail("time is not seconds since 1970:", stamp, "@timestamp") from None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise _fail(f"time is outside the years {MIN_YEAR}-{MAX_YEAR}:", stamp, "@timestamp")
    return when


def _local_time(text: str) -> datetime:
    """``%tl``: ``22/Nov/2026:08:15:02 +0700`` (English month names whatever the locale)."""
    m = _LOCAL_TIME.match(text)
    month = _MONTHS.get(m["mon"].lower()) if m else None
    if m is None or month is None:
        raise _fail("time is not like 22/Nov/2026:08:15:02 +0700:", text, "@timestamp")
    offset = timedelta(hours=int(m["oh"]), minutes=int(m["om"]))
    try:
        when = datetime(int(m["y"]), month, int(m["d"]), int(m["H"]), int(m["M"]),
                        int(m["S"]), tzinfo=timezone(-offset if m["sign"] == "-" else offset))
    except ValueError:
        raise _fail("time does not exist:", text, "@timestamp") from None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise _fail(f"time is outside the years {MIN_YEAR}-{MAX_YEAR}:", text, "@timestamp")
    return when


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _client(text: str, fields: dict[str, Any]) -> None:
    if _is_ip(text):
        fields["source.ip"] = text
    elif _HOST.match(text):  # log_fqdn on: Squid wrote the client's name
        fields["source.domain"] = text.lower()
    else:
        raise _fail("client is neither an address nor a host name:", text, "source.ip")


def _status(text: str, fields: dict[str, Any]) -> None:
    if len(text) != 3 or not text.isdigit() or not text.isascii():
        raise _fail("HTTP status is not three digits:", text, "http.response.status_code")
    if text != "000":  # Squid's "no reply was received or sent"
        fields["http.response.status_code"] = int(text)


def _bytes(text: str, fields: dict[str, Any]) -> None:
    if text == "-":
        return
    if not text.isdigit() or not text.isascii():
        raise _fail("size is not a whole number of bytes:", text, "http.response.bytes")
    fields["http.response.bytes"] = int(text)


def _url(url: str, method: str, fields: dict[str, Any]) -> None:
    """``url.original`` and the parts ECS names: an absolute URL (forward proxy), a
    ``host:port`` (CONNECT) or a path (a reverse proxy or an intercepted request)."""
    fields["url.original"] = url
    authority = _AUTHORITY.match(url) if "://" not in url else None
    if authority is not None and (method.upper() == "CONNECT" or not url.startswith("/")):
        fields["url.domain"] = authority["host"].strip("[]").lower()
        fields["url.port"] = _port(authority["port"], url)
        return
    if "://" not in url and not url.startswith("/"):
        return  # Squid's own markers, such as error:invalid-request
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _fail("URL is malformed:", url, "url.original") from None
    if parts.scheme:
        fields["url.scheme"] = parts.scheme.lower()
    if parts.hostname:
        fields["url.domain"] = parts.hostname
    if port is not None:
        fields["url.port"] = port
    if parts.path:
        fields["url.path"] = parts.path
        leaf = parts.path.rsplit("/", 1)[-1]
        stem, dot, ext = leaf.rpartition(".")
        if dot and stem and ext:
            fields["url.extension"] = ext
    if parts.query:
        fields["url.query"] = parts.query


def _port(text: str, url: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise _fail("URL port is out of range:", url, "url.port")
    return port
