"""The shipped network formats, registered with ``sensors.formats``: ``pcap`` (pcap and
pcapng captures) and ``zeek`` (Zeek ``conn.log``/``dns.log``, TSV or JSON).

Both are read as whole documents once a file has stopped changing: a capture file is
complete when tcpdump or dumpcap rotates it, and Zeek rotates its logs (hourly by
default) into the files a hospital keeps. Their events are flows and DNS queries
(``network.flow``, ``network.dns``) in time order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sensors.event import Event
from sensors.flows.reader import FlowReader
from sensors.flows.zeek import ZeekParseError, zeek_events
from sensors.formats import FileParser, FormatConfig, InputFormat, Reject, register

_CAPTURE_MAGIC = (
    b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)


class PcapFormatConfig(FormatConfig):
    """A capture file's flows: a flow ends after ``idle_timeout_seconds`` of silence, and
    one longer than ``active_timeout_seconds`` is reported and started afresh."""

    format: Literal["pcap"] = "pcap"
    idle_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    active_timeout_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0


class ZeekFormatConfig(FormatConfig):
    """Zeek's ``conn.log`` and ``dns.log`` (TSV or JSON writer; gzipped files too)."""

    format: Literal["zeek"] = "zeek"
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0


class _Capture:
    def __init__(self, config: PcapFormatConfig) -> None:
        self._config = config

    def read(self, path: str, reject: Reject) -> list[Event]:
        reader = FlowReader(path, idle_timeout=self._config.idle_timeout_seconds,
                            active_timeout=self._config.active_timeout_seconds)
        # A flow is emitted when it ends but stamped with its start: sort before merging.
        return sorted(reader, key=lambda e: e.epoch)


class _ZeekLog:
    def read(self, path: str, reject: Reject) -> list[Event]:
        def bad(e: ZeekParseError) -> None:
            reject(e.line or 0, e.reason.removeprefix(f"{e.path}:{e.line}: "), e.field, b"")

        return sorted(zeek_events(path, on_error=bad), key=lambda e: e.epoch)


def _open_pcap(config: PcapFormatConfig, path: str) -> FileParser:
    return FileParser(document=_Capture(config), settle_seconds=config.settle_seconds)


def _open_zeek(config: ZeekFormatConfig, path: str) -> FileParser:
    return FileParser(document=_ZeekLog(), settle_seconds=config.settle_seconds)


def _sniff_pcap(head: bytes) -> FormatConfig | None:
    return PcapFormatConfig() if head[:4] in _CAPTURE_MAGIC else None


def _sniff_zeek(head: bytes) -> FormatConfig | None:
    if head.startswith(b"\x1f\x8b"):  # gzip: only Zeek logs are read compressed
        return ZeekFormatConfig()
    if head.startswith(b"#separator"):
        return ZeekFormatConfig()
    first = head.split(b"\n", 1)[0]
    if first.startswith(b"{") and b'"uid"' in first and b'"ts"' in first:
        return ZeekFormatConfig()
    return None


register(InputFormat("pcap", PcapFormatConfig, _open_pcap, _sniff_pcap,
                     "pcap or pcapng capture: bidirectional flows and DNS queries"))
register(InputFormat("zeek", ZeekFormatConfig, _open_zeek, _sniff_zeek,
                     "Zeek conn.log and dns.log (TSV or JSON, gzipped too)"))
