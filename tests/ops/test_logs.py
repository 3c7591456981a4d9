"""Structured logs: one JSON object per line, parsed back; hostile values stay values."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from phiwatch.config import LoggingConfig
from phiwatch.logs import configure

HOSTILE = 'nv01"}\n{"level": "CRITICAL", "forged": true}\r\x1b[2J\x9b\u2028\u202eevil\x00'


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return text.splitlines()


def test_json_lines_parse_back_with_extra_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LoggingConfig(format="json", level="info"), stream=out)
    log = logging.getLogger("phiwatch.runner")
    log.info("resuming from %s", "/var/lib/phiwatch/state.json",
             extra={"source": "his", "files": 3, "ratio": 0.5, "paths": ["a", "b"]})
    log.debug("not shown at info")
    log.warning("user %s quarantined", HOSTILE, extra={"user": HOSTILE})
    lines = _lines(out)
    assert len(lines) == 2                       # no record became two lines
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "phiwatch.runner"
    assert first["message"] == "resuming from /var/lib/phiwatch/state.json"
    assert (first["source"], first["files"], first["ratio"], first["paths"]) == \
        ("his", 3, 0.5, ["a", "b"])
    assert first["time"].endswith("Z") and first["time"][10] == "T" and len(first["time"]) == 24
    assert second["message"] == f"user {HOSTILE} quarantined"    # exact, as data
    assert second["user"] == HOSTILE and "forged" not in second
    raw = lines[1]
    for ch in ("\x1b", "\x9b", "\u2028", "\u202e", "\x00", "\r"):
        assert ch not in raw


def test_exceptions_carry_their_traceback(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LoggingConfig(format="json"), stream=out)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("phiwatch.notify").exception("notification round failed")
    (line,) = _lines(out)
    doc = json.loads(line)
    assert doc["level"] == "ERROR" and doc["error"] == "ValueError: bad\nvalue"
    assert doc["traceback"].startswith("Traceback (most recent call last):")


def test_text_format_escapes_control_characters(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LoggingConfig(format="text"), verbose=True, stream=out)
    logging.getLogger("phiwatch").info("user %s", "a\x1b[2Jb")
    (line,) = _lines(out)
    assert line.endswith(" INFO phiwatch: user a\\x1b[2Jb")


def test_level_defaults_follow_verbose(restore_logging: None) -> None:
    configure(LoggingConfig(), stream=io.StringIO())
    assert logging.getLogger().level == logging.WARNING
    configure(LoggingConfig(), verbose=True, stream=io.StringIO())
    assert logging.getLogger().level == logging.INFO
    configure(LoggingConfig(level="error"), verbose=True, stream=io.StringIO())
    assert logging.getLogger().level == logging.ERROR
