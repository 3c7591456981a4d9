"""phiwatch's own log lines: readable text, or one JSON object per line for a shipper.

``logging: {format: json}`` makes every record one line of JSON: ``time`` (UTC, ISO 8601
with milliseconds), ``level``, ``logger``, ``message``, the record's extra fields
(``log.warning("…", extra={"source": "his", "file": path})``) and, for an exception, its
``error`` and ``traceback``. A log field is data: JSON escapes quotes, backslashes and
control characters, and the line separators and bidirectional controls that JSON leaves
as they are (U+2028, U+202E …) are written as ``\\uXXXX`` too, so a value can neither
end the line, forge a key, nor reorder what an operator reads. ``format: text`` keeps the
command line's ``SafeFormatter`` (control characters shown as ``\\x1b``).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from phiwatch.config import LoggingConfig
from phiwatch.text import SafeFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: What every LogRecord has; anything else on a record is an extra field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
#: Valid in JSON strings as they are, but they reorder or break lines where read.
_INVISIBLE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = _json_value(value)
        if record.exc_info and record.exc_info[1] is not None:
            doc["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            doc["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["traceback"] = record.exc_text
        line = orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def configure(config: LoggingConfig, *, verbose: bool = False,
              stream: TextIO | None = None) -> logging.Handler:
    """Set up the root logger as ``config`` says; ``verbose`` lowers an unset level to
    info (``--verbose``). Returns the handler (tests read what it wrote)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter(TEXT_FORMAT))
    level = config.level.upper() if config.level else ("INFO" if verbose else "WARNING")
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler
