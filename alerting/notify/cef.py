"""An alert as a CEF event inside an RFC 5424 syslog message, framed for its transport.

CEF (ArcSight Common Event Format, rev. 25): ``CEF:0|Vendor|Product|Version|Signature
ID|Name|Severity|Extension``. In the seven header fields a pipe and a backslash are
escaped (``\\|``, ``\\\\``); in extension values a backslash, an equals sign and line
breaks (``\\\\``, ``\\=``, ``\\n``, ``\\r``). Before that, every value goes through
``clean``: control and bidi characters become visible text (``\\x1b``), so nothing an
attacker typed into a log can end the event, forge a key, or move a SIEM's cursor.

RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG``; PROCID and SD are
nil (``-``), MSGID is ``alert``, TIMESTAMP the notification's creation time in UTC with
milliseconds (a retried message carries the same). Over TCP and TLS each message is
octet-counted (RFC 6587 §3.4.1: ``LEN SP MSG``), so the receiver never looks for a line
end; over UDP one datagram is one message. A message longer than the configured maximum
is shortened field by field (free text first), never cut through an escape.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime

from alerting.reports.safe_text import clean
from alerting.store import alert_user
from rules.alert import Alert

VENDOR = "phiwatch"
PRODUCT = "phiwatch"
CEF_SEVERITY = {"informational": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
#: Alert severity → syslog severity (crit, err, warning, notice, info).
SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
FACILITY = {name: code for code, name in enumerate(
    ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
     "authpriv", "ftp"))} | {f"local{i}": 16 + i for i in range(8)}
#: Limits of free-text values tried in turn until the message fits.
_LIMITS = (1023, 256, 64, 16)
BOM = b"\xef\xbb\xbf"


def escape_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


def escape_extension(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("=", "\\=")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r"))


def _ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def _context(alert: Alert, key: str) -> str | None:
    value = alert.group.get(key) or alert.context.get(key)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def _ip(value: str | None) -> str | None:
    """An address as CEF's ``src`` wants it; ``None`` for anything else."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _extension(alert: Alert, organization_id: str, limit: int) -> Iterator[tuple[str, str]]:
    yield "rt", _ms(alert.window_end)
    yield "start", _ms(alert.window_start)
    yield "end", _ms(alert.window_end)
    yield "cnt", str(alert.event_count)
    yield "externalId", alert.id
    yield "cat", "phiwatch/alert"
    if (user := alert_user(alert)) is not None:
        yield "suser", clean(user, limit=min(limit, 1023))
    if (ip := _ip(_context(alert, "source.ip"))) is not None:
        yield "src", ip
    if (host := _context(alert, "host.name")) is not None:
        yield "shost", clean(host, limit=min(limit, 1023))
    yield "msg", clean(alert.explanation, limit=limit, one_line=False)
    yield "cs1Label", "organization"
    yield "cs1", clean(organization_id, limit=min(limit, 100))
    yield "cs2Label", "group"
    yield "cs2", clean(", ".join(f"{k}={v}" for k, v in sorted(alert.group.items())),
                       limit=limit)
    yield "cs3Label", "final"
    yield "cs3", "true" if alert.final else "false"
    yield "cn1Label", "revision"
    yield "cn1", str(alert.revision)
    if alert.value_count is not None:
        yield "cn2Label", "distinctValues"
        yield "cn2", str(alert.value_count)


def cef_event(alert: Alert, *, organization_id: str, version: str, limit: int = 1023) -> str:
    """The CEF text of ``alert``; free-text values cut to ``limit`` characters."""
    header = [
        "CEF:0", escape_header(VENDOR), escape_header(PRODUCT), escape_header(version),
        escape_header(clean(alert.rule_id, limit=min(limit, 256))),
        escape_header(clean(alert.rule_title, limit=min(limit, 512))),
        str(CEF_SEVERITY.get(alert.severity, 5)),
    ]
    ext = " ".join(f"{k}={escape_extension(v)}" for k, v in
                   _extension(alert, organization_id, limit))
    return "|".join(header) + "|" + ext


def syslog_timestamp(dt: datetime) -> str:
    """RFC 5424 TIMESTAMP in UTC with milliseconds: ``2026-11-22T01:15:02.000Z``."""
    u = dt.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond // 1000:03d}Z"


def syslog_message(alert: Alert, *, created: datetime, hostname: str, app_name: str,
                   facility: str, organization_id: str, version: str,
                   max_bytes: int, bom: bool = False) -> bytes:
    """One RFC 5424 message carrying ``alert`` as CEF, at most ``max_bytes`` long."""
    pri = FACILITY[facility] * 8 + SYSLOG_SEVERITY.get(alert.severity, 4)
    head = (f"<{pri}>1 {syslog_timestamp(created)} {hostname or '-'} {app_name or '-'} "
            f"- alert - ").encode("ascii")
    message = b""
    for limit in _LIMITS:
        body = cef_event(alert, organization_id=organization_id, version=version,
                         limit=limit).encode("utf-8")
        message = head + (BOM if bom else b"") + body
        if len(message) <= max_bytes:
            break
    return message


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


def printable_hostname(name: str) -> str:
    """A machine name as RFC 5424 HOSTNAME (PRINTUSASCII, at most 255): other characters
    become ``_``; empty becomes the nil value."""
    safe = "".join(c if 33 <= ord(c) <= 126 else "_" for c in name)[:255]
    return safe or "-"
