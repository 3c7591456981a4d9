"""Record parsers: one line of a log (bytes) in, normalized ``Event``\\ s out.

The tailer reads complete lines and hands each to the file's parser with its reference
(``path:line``); a parser returns events or raises ``ParseError``, whose ``reason`` names
the field, and the tailer dead-letters the line. ``parser_for`` gives a new parser per file
because CSV parsers remember the file's header line.

Formats: ``json`` (canonical ECS JSON lines, ``ecs_json``), ``csv`` (column mapping,
``csv_mapped``), ``fhir`` (HL7 FHIR R4 AuditEvent, ``fhir``) and ``squid`` (the Squid web
proxy's access log, ``squid``). Their configuration models are in
``sensors.parsers.config``.
"""

from __future__ import annotations

from pathlib import Path

from sensors.parsers.base import ParseError, RecordParser
from sensors.parsers.config import (
    CsvParserConfig,
    FhirParserConfig,
    JsonParserConfig,
    ParserConfig,
    SquidParserConfig,
)
from sensors.parsers.csv_mapped import CsvParser
from sensors.parsers.ecs_json import EcsJsonParser
from sensors.parsers.fhir import FhirParser
from sensors.parsers.squid import SquidParser

__all__ = [
    "CsvParser",
    "CsvParserConfig",
    "EcsJsonParser",
    "FhirParser",
    "FhirParserConfig",
    "JsonParserConfig",
    "ParseError",
    "ParserConfig",
    "RecordParser",
    "SquidParser",
    "SquidParserConfig",
    "parser_for",
]


def parser_for(fmt: ParserConfig, path: Path | str | None = None) -> RecordParser:
    """A new parser for one file (``path`` names it in messages); never shared between files."""
    if isinstance(fmt, JsonParserConfig):
        return EcsJsonParser(fmt)
    if isinstance(fmt, CsvParserConfig):
        return CsvParser(fmt, str(path) if path is not None else "")
    if isinstance(fmt, FhirParserConfig):
        return FhirParser(fmt)
    if isinstance(fmt, SquidParserConfig):
        return SquidParser(fmt)
    raise TypeError(f"not a parser configuration: {fmt!r}")
