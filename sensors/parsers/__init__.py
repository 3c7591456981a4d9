"""Record parsers: one line of a log (bytes) in, normalized ``Event``\\ s out.

The tailer reads complete lines and hands each to the file's parser with its reference
(``path:line``); a parser returns events or raises ``ParseError``, whose ``reason`` names
the field, and the tailer dead-letters the line. ``parser_for`` gives a new parser per file
because CSV parsers remember the file's header line.

Formats: ``json`` (canonical ECS JSON lines, ``ecs_json``), ``csv`` (column mapping,
``csv_mapped``), ``fhir`` (HL7 FHIR R4 AuditEvent, ``fhir``) and ``squid`` (the Squid web
proxy's access log, ``squid``). Their configuration models are in
``sensors.parsers.config``; ``sensors.parsers.formats`` registers them with
``sensors.formats``, the registry every input format goes through.
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
    """A new line parser for one file of a line format (``path`` names it in messages);
    never shared between files. The pipeline opens files through ``sensors.formats``."""
    from sensors.formats import format_named

    opened = format_named(fmt.format).open(fmt, str(path) if path is not None else "")
    if opened.lines is None:
        raise ValueError(f"format {fmt.format!r} reads whole documents, not lines")
    return opened.lines
