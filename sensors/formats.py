"""The extension point for input formats: a Protocol per way of reading, and a registry.

A *format* turns one file into events. Two ways of reading exist, and a format offers one
per file:

- **lines** (``LineParser``): the file is a log that grows; the tailer hands over each
  complete line (canonical JSON, CSV, FHIR NDJSON, Squid). A parser that needs the start
  of a file it resumes mid-way (a CSV header) says so with ``prime``.
- **document** (``DocumentReader``): the file is read whole once it has stopped changing
  (a pcap capture, a Zeek log rotated away, a pretty-printed FHIR Bundle). Bad records
  inside it are handed to ``reject`` and the rest is read.

Every format registers an ``InputFormat``: its name (the ``format:`` of a source's
``parse:`` section), its configuration model, how to open a file, and optionally how to
recognise a file by its first bytes (``phiwatch replay`` on a file no source names).
``phiwatch run`` and ``phiwatch replay`` read every file through the same
``sensors.file_source.FileSource``, so a format registered here reaches both. See
``docs/architecture.md`` for a recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, field_validator

from sensors.errors import ConfigKeyError
from sensors.event import Event
from sensors.timestamps import get_zone


class FormatConfig(BaseModel):
    """What every format's ``parse:`` section shares; each format adds its own keys.

    ``timezone`` and ``organization_id`` left out are filled from the top of the
    configuration when the pipeline is assembled.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str
    #: Zone of times written without an offset; ``None``: the configuration's ``timezone``.
    timezone: str | None = None
    #: ``organization.id`` for records that do not carry one.
    organization_id: str | None = None
    #: ``strptime`` formats tried, in order, for times that are not ISO 8601 or epoch.
    timestamp_formats: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, v: str | None) -> str | None:
        if v is not None:
            get_zone(v)  # ValueError with a readable message
        return v

    @field_validator("timestamp_formats")
    @classmethod
    def _formats_have_directives(cls, v: list[str]) -> list[str]:
        for fmt in v:
            if "%" not in fmt:
                raise ValueError(f"timestamp format {fmt!r} has no % directive")
        return v


class LineParser(Protocol):
    """One complete line (without its line ending) in, events out.

    Usually one event; a FHIR Bundle line gives several, a CSV header line none. Raises
    ``ParseError`` (``sensors.parsers.base``) for a bad record, naming the field.
    """

    def parse(self, line: bytes, ref: str) -> list[Event]: ...


#: A bad record inside a document: (line or record number, reason, field, raw bytes).
Reject = Callable[[int, str, str | None, bytes], None]


class DocumentReader(Protocol):
    """A whole file in, its events out in time order.

    Raises ``ParseError`` when the file as a whole cannot be read; hands each bad record
    to ``reject`` and goes on.
    """

    def read(self, path: str, reject: Reject) -> Iterable[Event]: ...


@dataclass(frozen=True, slots=True)
class FileParser:
    """How one file is read: exactly one of ``lines`` and ``document``.

    ``prime`` receives the first bytes of a file resumed after its start (up to 64 KiB),
    for parsers whose lines depend on a header. ``settle_seconds``: a document is read
    once it has not changed for this long.
    """

    lines: LineParser | None = None
    prime: Callable[[bytes], None] | None = None
    document: DocumentReader | None = None
    settle_seconds: float = 2.0
    #: The problems a parser noticed about the file as a whole (a header that does not
    #: split, a code missing from a mapping), each once, with the configuration fix.
    warnings: Callable[[], list[str]] | None = None

    def __post_init__(self) -> None:
        if (self.lines is None) == (self.document is None):
            raise ValueError("a FileParser reads lines or a document, exactly one")


@dataclass(frozen=True, slots=True)
class InputFormat:
    """One registered format."""

    name: str
    config: type[FormatConfig]
    #: A new parser for one file (``path`` names it in messages); never shared.
    open: Callable[[Any, str], FileParser]
    #: The configuration to read a file whose first bytes (up to 4 KiB) are in this
    #: format, for files that no configured source names; ``None``: never guessed.
    sniff: Callable[[bytes], FormatConfig | None] | None = None
    #: One line for ``--help`` and error messages.
    summary: str = ""


_REGISTRY: dict[str, InputFormat] = {}


def register(fmt: InputFormat) -> InputFormat:
    """Make ``fmt`` available to configurations validated from now on."""
    _REGISTRY[fmt.name] = fmt
    return fmt


def formats() -> Mapping[str, InputFormat]:
    """The registered formats by name (the shipped ones are loaded on first use)."""
    _load_builtins()
    return _REGISTRY


def format_named(name: str) -> InputFormat:
    """The format called ``name``; ``ConfigKeyError`` naming the known ones otherwise."""
    fmt = formats().get(name)
    if fmt is None:
        known = ", ".join(sorted(formats()))
        raise ConfigKeyError("format", f"unknown input format {name!r} (known: {known})")
    return fmt


def format_config(value: Any) -> FormatConfig:
    """A source's ``parse:`` section validated by the model of the format it names."""
    if isinstance(value, FormatConfig):
        return value
    if not isinstance(value, Mapping):
        raise ValueError("parse must be a mapping with a 'format' key")
    name = value.get("format", "json")
    if not isinstance(name, str):
        raise ValueError("parse.format must be a format name")
    try:
        fmt = format_named(name)
    except ConfigKeyError as e:
        raise ValueError(e.message) from None
    return fmt.config.model_validate({**value, "format": name})


def sniff(head: bytes) -> FormatConfig | None:
    """How to read a file that starts with ``head``: the configuration of the first
    registered format that recognises it, if any."""
    for fmt in formats().values():
        if fmt.sniff is not None and (config := fmt.sniff(head)) is not None:
            return config
    return None


def _load_builtins() -> None:
    """Import the shipped formats, which register themselves (once)."""
    import sensors.flows.formats
    import sensors.parsers.formats  # noqa: F401
