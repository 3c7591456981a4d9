"""The shipped text formats, registered with ``sensors.formats``: ``fhir``, ``squid``,
``csv`` and ``json`` (the canonical HIS access log, tried last when guessing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sensors.event import Event
from sensors.formats import FileParser, FormatConfig, InputFormat, Reject, register
from sensors.parsers.config import (
    CsvParserConfig,
    FhirParserConfig,
    JsonParserConfig,
    SquidParserConfig,
)
from sensors.parsers.csv_mapped import CsvParser
from sensors.parsers.ecs_json import EcsJsonParser
from sensors.parsers.fhir import FhirParser
from sensors.parsers.squid import SquidParser


def _first_line(head: bytes) -> bytes:
    return head.split(b"\n", 1)[0].rstrip(b"\r")


def _open_csv(config: CsvParserConfig, path: str) -> FileParser:
    parser = CsvParser(config, path)
    return FileParser(lines=parser, prime=lambda head: parser.prime(_first_line(head)),
                      warnings=parser.warnings)


class _FhirDocument:
    """A whole FHIR Bundle file (``document: true``): read once it has settled."""

    def __init__(self, parser: FhirParser) -> None:
        self._parser = parser

    def read(self, path: str, reject: Reject) -> list[Event]:
        events = self._parser.parse_document(Path(path).read_bytes(), f"{path}:1")
        return sorted(events, key=lambda e: e.epoch)


def _open_fhir(config: FhirParserConfig, path: str) -> FileParser:
    parser = FhirParser(config)
    if config.document:
        return FileParser(document=_FhirDocument(parser), settle_seconds=config.settle_seconds)
    return FileParser(lines=parser)


def _sniff_fhir(head: bytes) -> FormatConfig | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{") or b'"resourceType"' not in text:
        return None
    if b'"AuditEvent"' not in text and b'"Bundle"' not in text:
        return None
    # NDJSON puts a whole resource on the first line; a pretty-printed Bundle does not.
    first = _first_line(text).rstrip()
    return FhirParserConfig(format="fhir", document=not first.endswith(b"}"))


_SQUID_NATIVE = re.compile(rb"^\d{9,11}\.\d{3}\s+\d+ \S+ [A-Z_]+/\d{3} ")


def _sniff_squid(head: bytes) -> FormatConfig | None:
    return SquidParserConfig(format="squid") if _SQUID_NATIVE.match(head) else None


def _sniff_json(head: bytes) -> FormatConfig | None:
    return JsonParserConfig(format="json") if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" \
        else None


def _lines(make: Any) -> Any:
    return lambda config, path: FileParser(lines=make(config))


register(InputFormat("fhir", FhirParserConfig, _open_fhir, _sniff_fhir,
                     "HL7 FHIR R4 AuditEvent resources or Bundles (NDJSON, or whole files)"))
register(InputFormat("squid", SquidParserConfig, _lines(SquidParser), _sniff_squid,
                     "Squid web proxy access.log (native or combined logformat)"))
register(InputFormat("csv", CsvParserConfig, _open_csv, None,
                     "CSV/TSV with a column mapping (parse.columns)"))
register(InputFormat("json", JsonParserConfig, _lines(EcsJsonParser), _sniff_json,
                     "canonical HIS access log: one ECS JSON object per line"))
