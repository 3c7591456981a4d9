"""The canonical HIS access log: one ECS JSON object per line (README, "Event fields").

Objects may be nested (``{"user": {"id": ...}}``), dotted (``{"user.id": ...}``) or a mix;
all three give the same flat event. Lists stay lists (``user.roles``); empty objects carry
nothing and are dropped. A key that appears twice once flattened (``"user": {"id": "a"}``
beside ``"user.id": "b"``) is an error only when the two values differ.

This is the hot path of a replay (every line of a month of logs goes through it), so the
line is decoded by orjson straight from bytes, flattened by a small recursive function,
and checked without building anything the event does not keep. Invalid UTF-8 is found by
orjson; only then is the line decoded again by Python to name the offending byte.
"""

from __future__ import annotations

from typing import Any

import orjson

from sensors.event import Event
from sensors.parsers.base import Normalizer, ParseError, show, type_name
from sensors.parsers.config import JsonParserConfig
from sensors.timestamps import DEFAULT_ZONE, get_zone

_BOM = b"\xef\xbb\xbf"
#: How many top-level objects, and names under each, a parser remembers.
_MAX_CACHED = 256


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> int:
    """Copy the leaves of ``obj`` into ``out`` under dotted keys; returns how many.

    The count lets the caller detect a key written twice (``len(out)`` falls short of it)
    without a membership test per leaf.
    """
    n = 0
    for key, value in obj.items():
        if type(value) is dict:
            if value:
                n += _flatten(value, prefix + key + ".", out)
        else:
            out[prefix + key] = value
            n += 1
    return n


def _first_conflict(
    obj: dict[str, Any], prefix: str, seen: dict[str, Any]
) -> tuple[str, Any, Any] | None:
    """The first dotted key given two different values, or ``None`` (slow path only)."""
    for key, value in obj.items():
        name = prefix + key
        if type(value) is dict:
            found = _first_conflict(value, name + ".", seen)
            if found:
                return found
        elif name in seen and seen[name] != value:
            return name, seen[name], value
        else:
            seen[name] = value
    return None


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (nested, dotted or mixed) as one flat dict; ``ParseError`` on a conflict."""
    fields: dict[str, Any] = {}
    if _flatten(doc, "", fields) != len(fields):
        conflict = _first_conflict(doc, "", {})
        if conflict is not None:
            name, a, b = conflict
            raise ParseError(f"field {name!r} is given twice: {show(a)} and {show(b)}", name)
    return fields


def decode_error(line: bytes, error: orjson.JSONDecodeError) -> ParseError:
    """The one-line reason a line is not a JSON document."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return ParseError(f"invalid UTF-8 at byte {e.start}")
    return ParseError(f"not valid JSON: {error.msg} at character {error.pos}")


class EcsJsonParser:
    """Parses canonical ECS JSON lines; one per file, like every parser.

    It remembers the dotted names it has built (``"user" + "." + "id"``) so that a line
    whose keys it has seen before is flattened with dict lookups only: every line of a
    log has the same few dozen keys. The memory is bounded, so hostile keys cannot grow it.
    """

    __slots__ = ("_finish", "_names")

    def __init__(self, config: JsonParserConfig | None = None) -> None:
        config = config or JsonParserConfig()
        normalizer = Normalizer(
            get_zone(config.timezone or DEFAULT_ZONE),
            tuple(config.timestamp_formats),
            config.organization_id,
        )
        self._finish = normalizer.event
        self._names: dict[str, dict[str, str]] = {}

    def parse(self, line: bytes, ref: str) -> list[Event]:
        """One event from one line, or ``ParseError``."""
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            if line.startswith(_BOM):
                return self.parse(line[3:], ref)
            if not line.strip():
                return []  # a blank line holds no record: nothing to keep
            raise decode_error(line, e) from None
        if type(doc) is not dict:
            raise ParseError(f"expected a JSON object, found {type_name(doc)}")
        fields: dict[str, Any] = {}
        names = self._names
        n = 0
        try:
            for key, value in doc.items():
                if type(value) is not dict:
                    fields[key] = value
                    n += 1
                    continue
                sub = names.get(key)
                if sub is None:
                    sub = {}
                    if len(names) < _MAX_CACHED:
                        names[key] = sub
                try:  # the usual case: a flat child whose every name is known
                    for k, v in value.items():
                        if type(v) is dict:
                            raise KeyError(k)
                        fields[sub[k]] = v
                    n += len(value)
                except KeyError:
                    n += _flatten_child(key, value, sub, fields)
        except RecursionError:
            raise ParseError("JSON nested too deeply to be an access-log record") from None
        if n != len(fields):
            fields = flatten(doc)
        return [self._finish(fields, line, ref)]


def _flatten_child(
    key: str, value: dict[str, Any], sub: dict[str, str], out: dict[str, Any]
) -> int:
    """Flatten ``value`` (the object under top-level ``key``), learning its names."""
    prefix = key + "."
    n = 0
    for k, v in value.items():
        if type(v) is dict:
            if v:
                n += _flatten(v, prefix + k + ".", out)
            continue
        name = sub.get(k)
        if name is None:
            name = prefix + k
            if len(sub) < _MAX_CACHED:
                sub[k] = name
        out[name] = v
        n += 1
    return n
