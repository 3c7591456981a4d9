"""Writing flow and DNS events as NDJSON or CSV (``phiwatch flows --format``).

Why two formats: NDJSON is the ECS document as Elasticsearch and ``jq`` take it; CSV is
what hospital IT opens in a spreadsheet. CSV has fixed columns so files from different
captures line up; a field an event lacks is an empty cell, and list values are joined
with ``|``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from sensors.event import Event

CSV_COLUMNS: tuple[str, ...] = (
    "@timestamp", "event.dataset", "event.end", "source.ip", "source.port",
    "destination.ip", "destination.port", "network.transport", "network.type",
    "source.packets", "source.bytes", "destination.packets", "destination.bytes",
    "network.packets", "network.bytes", "network.vlan.id", "phiwatch.flow.tcp_flags",
    "phiwatch.flow.end_reason", "dns.type", "dns.question.name", "dns.question.type",
    "dns.response_code", "event.id", "event.reference",
)  # fmt: skip
FORMATS = ("ndjson", "csv")


def _document(event: Event) -> dict[str, Any]:
    doc = event.nested()
    if event.id:
        doc.setdefault("event", {}).setdefault("id", event.id)
    if event.ref:
        doc.setdefault("event", {}).setdefault("reference", event.ref)
    return doc


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def write_events(events: Iterable[Event], stream: TextIO, fmt: str = "ndjson") -> int:
    """Write ``events`` to ``stream`` as ``"ndjson"`` or ``"csv"``; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "ndjson":
        for event in events:
            stream.write(orjson.dumps(_document(event)).decode())
            stream.write("\n")
            count += 1
        return count
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = dict(event.fields)
        row["@timestamp"] = event.timestamp.isoformat().replace("+00:00", "Z")
        row.setdefault("event.id", event.id)
        row.setdefault("event.reference", event.ref)
        writer.writerow([_cell(row.get(col)) for col in CSV_COLUMNS])
        count += 1
    return count
