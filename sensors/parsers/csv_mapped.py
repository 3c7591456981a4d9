"""CSV access logs, mapped column by column onto the ECS fields of the canonical log.

Many HIS export their audit trail as CSV with their own column names and codes
(``MA_NV``, ``THAO_TAC = XEM``). The configuration maps columns to ECS fields and codes to
phiwatch values; after that a row is finished exactly like a JSON line (same required
fields, coercions and derived fields), so rules never know the difference.

Each line is read on its own with the stdlib ``csv`` module (``csv.reader([text])``): the
tailer hands over lines, not files. The consequence is that a quoted field holding a line
break cannot be read; such a record comes out as two rows with the wrong number of columns
and is dead-lettered, not silently misread. The header is the first line of each file
(hence one parser per file); a resumed file gets it through ``prime``. A copy of the header
further down (files concatenated by an export job) is skipped. Cells are stripped of
surrounding blanks and an empty cell counts as absent. Several columns mapped to one field
are joined with a space in file order, which is how a date column and a time column become
one ``@timestamp``; ``values:`` then translates the joined value.
"""

from __future__ import annotations

import csv
from typing import Any

from sensors.event import Event
from sensors.parsers.base import Normalizer, ParseError
from sensors.parsers.config import CsvParserConfig
from sensors.timestamps import DEFAULT_ZONE, get_zone

_BOM = "\ufeff"


class CsvParser:
    """Parses the lines of one CSV file; remembers that file's header."""

    def __init__(self, config: CsvParserConfig, path: str = "") -> None:
        self._config = config
        self._path = path
        self._finish = Normalizer(
            get_zone(config.timezone or DEFAULT_ZONE),
            tuple(config.timestamp_formats),
            config.organization_id,
        ).event
        self._dialect: dict[str, Any] = {
            "delimiter": config.delimiter,
            "quotechar": config.quotechar,
            "strict": True,
        }
        self._utf8 = config.encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")
        self._values = config.values
        self._awaiting_header = config.header
        self._header_text: str | None = None
        self._width = 0
        self._plan: list[tuple[int, str]] = []
        self._origin: dict[str, str] = {}
        if config.names is not None:
            self._adopt(config.names)

    # -- header ---------------------------------------------------------------------------

    def prime(self, header: bytes) -> None:
        """Take the file's first line as its header (the file is resumed past it)."""
        if self._awaiting_header:
            self._awaiting_header = False
            self._read_header(header, f"{self._path}:1")

    def _read_header(self, line: bytes, ref: str) -> None:
        text = self._decode(line)
        self._header_text = text
        if self._config.names is not None:
            return  # configured names win; the file's header line is only skipped
        names = self._row(text, ref)
        self._adopt(names)
        missing = [c for c in self._config.columns if c not in names]
        if missing:
            shown = ", ".join(f"{c!r} (for {self._config.columns[c]})" for c in missing)
            raise ParseError(
                f"header line lacks the configured column{'s' if len(missing) > 1 else ''} "
                f"{shown}; found {names[:20]}",
                self._config.columns[missing[0]],
            )

    def _adopt(self, names: list[str]) -> None:
        """Plan which cell feeds which field; the first of two equal names wins."""
        names = [n.strip().lstrip(_BOM) for n in names]
        self._width = len(names)
        where: dict[str, int] = {}
        for i, name in enumerate(names):
            where.setdefault(name, i)
        self._plan = [
            (where[col], field) for col, field in self._config.columns.items() if col in where
        ]
        self._plan.sort()
        sources: dict[str, list[str]] = {}
        for col, field in self._config.columns.items():
            sources.setdefault(field, []).append(repr(col))
        self._origin = {f: "column " + " + ".join(cols) for f, cols in sources.items()}

    # -- rows -----------------------------------------------------------------------------

    def _decode(self, line: bytes) -> str:
        try:
            text = line.decode("utf-8") if self._utf8 else line.decode(self._config.encoding)
        except UnicodeDecodeError as e:
            name = "UTF-8" if self._utf8 else self._config.encoding
            raise ParseError(f"invalid {name} at byte {e.start}") from None
        return text[1:] if text.startswith(_BOM) else text

    def _row(self, text: str, ref: str) -> list[str]:
        try:
            return next(csv.reader([text], **self._dialect), [])
        except csv.Error as e:
            raise ParseError(f"not valid CSV at {ref}: {e}") from None

    def parse(self, line: bytes, ref: str) -> list[Event]:
        """One event from one row; none from the header or a blank line."""
        if self._awaiting_header:
            if not line.strip():
                return []
            self._awaiting_header = False
            self._read_header(line, ref)
            return []
        text = self._decode(line)
        if text == self._header_text or not text.strip():
            return []
        if not self._width:
            raise ParseError("the file's header line could not be read, so rows cannot be mapped")
        row = self._row(text, ref)
        if len(row) != self._width:
            raise ParseError(
                f"row at {ref} has {len(row)} columns, expected {self._width}"
                f"{' (as in the header line)' if self._config.names is None else ''}"
            )
        fields: dict[str, Any] = {}
        for index, field in self._plan:
            cell = row[index].strip()
            if cell:
                seen = fields.get(field)
                fields[field] = cell if seen is None else f"{seen} {cell}"
        for field, table in self._values.items():
            value = fields.get(field)
            if value is not None:
                fields[field] = table.get(value, value)
        return [self._finish(fields, line, ref, self._origin)]
