"""CSV access logs, mapped column by column onto the ECS fields of the canonical log.

Many HIS export their audit trail as CSV with their own column names and codes
(``MA_NV``, ``THAO_TAC = XEM``). The configuration maps columns to ECS fields and codes to
phiwatch values; after that a row is finished exactly like a JSON line (same required
fields, coercions, derived fields and identity), so rules never know the difference. The
configuration is documented in ``sensors.parsers.config`` and in the README ("CSV and
TSV access logs").

Each line is read on its own with the stdlib ``csv`` module (``csv.reader([text])``): the
tailer hands over lines, not files. The consequence is that a quoted field holding a line
break cannot be read; such a record comes out as two rows with the wrong number of columns
and is dead-lettered, not silently misread. The header is the first line of each file
(hence one parser per file); a resumed file gets it through ``prime``. A copy of the header
further down (files concatenated by an export job) is skipped. Cells are stripped of
surrounding blanks and an empty cell counts as absent. Several columns mapped to one field
are joined with a space in file order, which is how a date column and a time column become
one ``@timestamp``; ``values:`` then translates the joined value.

Header names and configured column names are compared after stripping a byte-order mark
and blanks and normalising to Unicode NFC, so a column typed in decomposed Unicode (as
some keyboards and macOS produce, ``Thời gian`` as ``o`` + combining marks) still matches.

Problems are told once per file, with the fix, never once per row:

- A header that lacks configured columns is one ``ParseError`` on the header line naming
  each missing column and the closest header name (difflib). When the header does not
  split into the configured columns at all, the delimiter is sniffed (``, ; tab |``) and
  the message says "the header splits into 10 columns with ';' — set
  ``parse.delimiter: ";"``". If a column of a required field (``@timestamp``,
  ``event.action``, ``user.id``) is missing, every row of the file is dead-lettered with a
  short reason pointing at the header line, since none can be mapped; otherwise rows are
  read without the missing fields.
- A value of a ``values:``-mapped field that its table does not list is *kept as
  written* and counted, and the first occurrence of each distinct value adds one warning
  with the line to add to the configuration. Kept rather than dead-lettered because that
  is safer for detection: a row whose ``event.action`` is an unknown ``SUA`` still reaches
  every rule that does not test the action (terminated accounts, off-shift access,
  flagged patients, workstation hops), while a dead letter would reach none; and the
  count makes the gap visible (a raw ``SUA`` matches no rule on ``view``). For
  ``event.action``, a value that already is a phiwatch action (``view``) is not counted.

``warnings()`` (every distinct warning so far, in order, at most ``MAX_WARNINGS``) and
``counts()`` (how many rows had each kind of problem) are what the pipeline surfaces.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import unicodedata
from typing import Any

from sensors.event import HIS_ACTIONS, Event
from sensors.parsers.base import REQUIRED_FIELDS, Normalizer, ParseError, show
from sensors.parsers.config import CsvParserConfig
from sensors.timestamps import DEFAULT_ZONE, get_zone

_BOM = "\ufeff"
#: Delimiters tried when a header does not split into the configured columns.
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
#: At most this many distinct warnings, and distinct unmapped values per field, are kept.
MAX_WARNINGS = 100
MAX_VALUES = 1000


def column_name(name: str) -> str:
    """A column name as compared: no BOM, no surrounding blanks, Unicode NFC."""
    name = name.strip().lstrip(_BOM).strip()
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def _shown_delimiter(d: str) -> str:
    return "\\t" if d == "\t" else d


class CsvParser:
    """Parses the lines of one CSV file; remembers that file's header and its problems."""

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
        self._columns = {column_name(c): f for c, f in config.columns.items()}
        self._values = {
            field: {**table, **{column_name(k): v for k, v in table.items()}}
            for field, table in config.values.items()
        }
        self._awaiting_header = config.header
        self._header_text: str | None = None
        self._header_ref = ""
        #: Why no row of this file can be mapped (a header problem), or ``None``.
        self._unmappable: str | None = None
        self._width = 0
        self._plan: list[tuple[int, str]] = []
        self._origin: dict[str, str] = {}
        self._warnings: list[str] = []
        self._counts: dict[str, int] = {}
        self._unmapped: dict[str, dict[str, int]] = {}
        self._width_hint: str | None = None
        if config.names is not None:
            self._adopt([column_name(n) for n in config.names])

    # -- what the pipeline reads ----------------------------------------------------------

    def warnings(self) -> list[str]:
        """Every distinct problem of this file so far, once each, in the order met.

        Each says what to change in the configuration. Bounded (``MAX_WARNINGS``).
        """
        return list(self._warnings)

    def counts(self) -> dict[str, int]:
        """Rows per kind of problem: ``unmapped_value`` (kept with the value as written),
        ``header`` (header lines with missing columns) and ``unmappable_row`` (rows
        dead-lettered because the header could not be mapped)."""
        return dict(self._counts)

    def unmapped_values(self) -> dict[str, dict[str, int]]:
        """Per ``values:`` field, each value its table lacks and how many rows had it."""
        return {field: dict(seen) for field, seen in self._unmapped.items()}

    def _warn(self, message: str) -> None:
        if len(self._warnings) < MAX_WARNINGS and message not in self._warnings:
            self._warnings.append(message)

    def _count(self, kind: str) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1

    # -- header ---------------------------------------------------------------------------

    def prime(self, header: bytes) -> None:
        """Take the file's first line as its header (the file is resumed past it).

        Never raises: a header problem is a warning here, and each row then says why it
        cannot be mapped.
        """
        if self._awaiting_header:
            self._awaiting_header = False
            with contextlib.suppress(ParseError):  # in warnings(); rows point at it
                self._read_header(header, f"{self._path}:1")

    def _read_header(self, line: bytes, ref: str) -> None:
        self._header_ref = ref
        try:
            text = self._decode(line)
        except ParseError as e:
            self._unmappable = f"the header line ({ref}) could not be read: {e.reason}"
            self._warn(f"{self._where()}: {self._unmappable}")
            raise
        self._header_text = text
        if self._config.names is not None:
            return  # configured names win; the file's header line is only skipped
        names = [column_name(n) for n in self._row(text, ref)]
        self._adopt(names)
        missing = [c for c in self._columns if c not in names]
        if missing:
            self._count("header")
            reason = self._header_problem(text, names, missing)
            required = [c for c in missing if self._columns[c] in REQUIRED_FIELDS]
            if required:
                self._unmappable = (
                    f"not mapped: the header line ({ref}) lacks the column of "
                    f"{self._columns[required[0]]}; the fix is in that line's error"
                )
            self._warn(f"{self._where()}: {reason}")
            raise ParseError(reason, self._columns[missing[0]])

    def _where(self) -> str:
        return self._path or "CSV file"

    def _header_problem(self, text: str, names: list[str], missing: list[str]) -> str:
        """One line: what is missing, the closest header names, or the right delimiter."""
        best = self._sniff(text)
        if best is not None:
            delimiter, width, found = best
            shown = _shown_delimiter(delimiter)
            return (
                f"the header splits into {len(names)} column{'s' if len(names) != 1 else ''} "
                f"with {_shown_delimiter(self._config.delimiter)!r} but into {width} with "
                f"{shown!r}, {found} of them configured: set `parse.delimiter: "
                f'"{shown}"`'
            )
        parts = []
        folded = {n.casefold(): n for n in reversed(names)}
        for column in missing:
            close = difflib.get_close_matches(column.casefold(), folded, n=1, cutoff=0.5)
            hint = f", closest header {folded[close[0]]!r}" if close else ""
            parts.append(f"{column!r} (for {self._columns[column]}{hint})")
        plural = "s" if len(missing) > 1 else ""
        return (
            f"header line lacks the configured column{plural} {'; '.join(parts)}; "
            f"found {[n[:40] for n in names[:20]]}"
        )

    def _sniff(self, text: str) -> tuple[str, int, int] | None:
        """The delimiter under which more configured columns are found, if any is better."""
        def found(delimiter: str) -> tuple[int, int]:
            try:
                row = next(csv.reader([text], delimiter=delimiter,
                                      quotechar=self._config.quotechar), [])
            except csv.Error:
                return 0, 0
            names = {column_name(n) for n in row}
            return sum(1 for c in self._columns if c in names), len(row)

        have, _ = found(self._config.delimiter)
        best: tuple[str, int, int] | None = None
        for candidate in CANDIDATE_DELIMITERS:
            if candidate == self._config.delimiter:
                continue
            hits, width = found(candidate)
            if hits > have and (best is None or hits > best[2]):
                best = (candidate, width, hits)
        return best

    def _adopt(self, names: list[str]) -> None:
        """Plan which cell feeds which field; the first of two equal names wins."""
        self._width = len(names)
        where: dict[str, int] = {}
        for i, name in enumerate(names):
            where.setdefault(name, i)
        self._plan = sorted(
            (where[col], field) for col, field in self._columns.items() if col in where
        )
        sources: dict[str, list[str]] = {}
        for col, field in self._columns.items():
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
        if self._unmappable is not None:
            self._count("unmappable_row")
            raise ParseError(self._unmappable)
        if not self._width:
            raise ParseError("the file's header line could not be read, so rows cannot be mapped")
        row = self._row(text, ref)
        if len(row) != self._width:
            raise ParseError(self._width_problem(text, len(row), ref))
        fields: dict[str, Any] = {}
        for index, field in self._plan:
            cell = row[index].strip()
            if cell:
                seen = fields.get(field)
                fields[field] = cell if seen is None else f"{seen} {cell}"
        for field, table in self._values.items():
            value = fields.get(field)
            if value is not None:
                mapped = table.get(value)
                if mapped is None and not value.isascii():
                    mapped = table.get(unicodedata.normalize("NFC", value))
                if mapped is not None:
                    fields[field] = mapped
                elif field != "event.action" or value not in HIS_ACTIONS:
                    self._unlisted(field, value)
        return [self._finish(fields, line, ref, self._origin)]

    def _width_problem(self, text: str, width: int, ref: str) -> str:
        reason = (f"row at {ref} has {width} columns, expected {self._width}"
                  f"{' (as in the header line)' if self._config.names is None else ''}")
        if self._width_hint is None:  # sniffed once per file, on the first bad row
            self._width_hint = ""
            for candidate in CANDIDATE_DELIMITERS:
                if candidate == self._config.delimiter:
                    continue
                try:
                    cells = next(csv.reader([text], delimiter=candidate,
                                            quotechar=self._config.quotechar), [])
                except csv.Error:
                    continue
                if len(cells) == self._width:
                    shown = _shown_delimiter(candidate)
                    self._width_hint = (f"; with {shown!r} it has {self._width}: set "
                                        f'`parse.delimiter: "{shown}"`')
                    self._warn(f"{self._where()}: rows do not split into {self._width} "
                               f"columns{self._width_hint}")
                    break
        return reason + self._width_hint

    def _unlisted(self, field: str, value: str) -> None:
        """Count a value its ``values:`` table lacks; warn on its first occurrence."""
        self._count("unmapped_value")
        seen = self._unmapped.setdefault(field, {})
        if value in seen:
            seen[value] += 1
            return
        if len(seen) >= MAX_VALUES:
            return
        seen[value] = 1
        where = self._origin.get(field, field)
        example = ("<one of " + ", ".join(sorted(HIS_ACTIONS)) + ">"
                   if field == "event.action" else "<value>")
        self._warn(
            f"{self._where()}: {field} value {show(value, 40)} ({where}) is not in "
            f"`values:`; rows keep it as written"
            f"{', so no rule on an action matches them' if field == 'event.action' else ''}. "
            f"Add it, e.g. `values: {{{field}: {{{show(value, 40)}: {example}}}}}`"
        )
