"""How to read a source's records: the ``parse:`` section of a source in the YAML config.

One model per ``format``, joined into ``ParserConfig``, a union discriminated on
``format``. Unknown keys are errors, as everywhere in the configuration. ``timezone`` and
``organization_id`` left out (``null``) are filled from the top of the configuration by the
pipeline, and fall back to ``Asia/Ho_Chi_Minh`` and nothing when a parser is built alone.

```yaml
parse: {format: json}                      # canonical ECS JSON lines (the default)

parse:                                     # a Vietnamese HIS export (README, "CSV and
  format: csv                              # TSV access logs", has the whole example)
  delimiter: ";"                           # one character; "\t" for TSV
  quotechar: '"'
  header: true                             # first line of each file names the columns
  encoding: utf-8                          # any Python codec; a UTF-8 BOM is skipped
  columns:                                 # CSV column -> ECS field
    "Thời gian": "@timestamp"              # names compared after NFC, BOM and blanks
    "Mã NV": user.id
    "Thao tác": event.action
    "Mã BN": patient.id
    "Số HS": his.record_count
  values:                                  # per field: code in the file -> value
    event.action: {"Xem": view, "Tìm kiếm": search, "In": print, "Xuất": export}
  timestamp_formats: ["%d/%m/%Y %H:%M:%S"] # local dd/mm/yyyy HH:MM:SS
  timezone: Asia/Ho_Chi_Minh

parse:                                     # date and time in two columns: joined by a
  format: csv                              # space in file order, then parsed
  columns: {NGAY: "@timestamp", GIO: "@timestamp", MA_NV: user.id, THAO_TAC: event.action}
  timestamp_formats: ["%d/%m/%Y %H:%M:%S"]

parse:                                     # no header line: the names, in file order
  format: csv
  header: false
  names: [NGAY, GIO, MA_NV, THAO_TAC]
  columns: {NGAY: "@timestamp", GIO: "@timestamp", MA_NV: user.id, THAO_TAC: event.action}
  timestamp_formats: ["%d/%m/%Y %H:%M:%S"]

parse: {format: fhir}                      # FHIR R4 AuditEvent or Bundle, one per line
parse: {format: fhir, document: true}      # whole Bundle files (saved _history pages)
```

CSV semantics (``sensors.parsers.csv_mapped``): every row must yield ``@timestamp``,
``event.action`` and ``user.id``; a header lacking configured columns is reported once,
on the header line, with the closest header name or the delimiter the header does split
with; a value a ``values:`` table lacks is kept as written, counted and warned once (the
parser's ``warnings()``/``counts()``), because a kept row still reaches the rules that do
not test that field.

A web proxy source is ``parse: {format: squid}`` (Squid's native access.log) or
``{format: squid, logformat: combined}``; see ``sensors.parsers.squid``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sensors.formats import FormatConfig

#: Kept for callers of the old name: every format's configuration derives from it.
_ParserConfigBase = FormatConfig


class JsonParserConfig(FormatConfig):
    """Canonical HIS access log: one ECS JSON object per line, nested or dotted keys."""

    format: Literal["json"] = "json"


class CsvParserConfig(FormatConfig):
    """CSV (or any delimiter) with a mapping from columns to ECS fields."""

    format: Literal["csv"]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    quotechar: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    #: Whether the first line of each file names the columns (and is not a record).
    header: bool = True
    #: Column names in file order when there is no header line (or to override it).
    names: list[str] | None = None
    #: CSV column name -> ECS field. Columns not listed are ignored.
    columns: Annotated[dict[str, str], Field(min_length=1)]
    #: ECS field -> {code as written in the file: value}; codes not listed are kept as
    #: written, counted and warned about once each (``CsvParser.warnings()``).
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: Text encoding of the file; a UTF-8 byte-order mark is always skipped.
    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown text encoding {v!r}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CsvParserConfig:
        if not self.header and not self.names:
            raise ValueError("with header: false, list the column names in names:")
        if self.names is not None:
            unknown = [c for c in self.columns if c not in self.names]
            if unknown:
                raise ValueError(f"columns {unknown} are not among names: {self.names}")
        mapped = set(self.columns.values())
        stray = [f for f in self.values if f not in mapped]
        if stray:
            raise ValueError(f"values: for fields {stray} that no column is mapped to")
        return self


class FhirParserConfig(FormatConfig):
    """HL7 FHIR R4 AuditEvent resources (or Bundles of them), one JSON resource per line.

    With ``document: true`` each file is instead one whole JSON document (a pretty-printed
    Bundle, as an HIS export job drops them into a folder): it is read once, whole, when it
    has not changed for ``settle_seconds``.
    """

    format: Literal["fhir"]
    document: bool = False
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0
    #: FHIR R4 has no element for the user's department. An HIS that records it in an
    #: extension of the requesting agent names that extension's URL here; its value
    #: (``valueString``, ``valueCode``, a coding's code, a reference's display or
    #: identifier) becomes ``user.department``. Without it the roster's department is
    #: used, and a staff member working for another ward than the roster's is judged by
    #: the roster's.
    department_extensions: list[str] = Field(default_factory=list)


class SquidParserConfig(FormatConfig):
    """Squid web proxy ``access.log`` (see ``sensors.parsers.squid``): the native format
    (``logformat squid``, Squid's default) or the Apache-style ``combined`` one, which
    adds the Referer and User-Agent headers."""

    format: Literal["squid"]
    logformat: Literal["squid", "combined"] = "squid"


#: The configuration of any registered format (``sensors.formats``); the ``format:`` key
#: picks the model that validates the rest.
ParserConfig = FormatConfig
