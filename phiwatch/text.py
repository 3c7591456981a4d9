"""Text from logs is data: never markup, never a terminal escape.

Every string phiwatch shows a person (alert sentences, user names, file names, config
values echoed in errors) may have been chosen by an attacker: a user name typed into the
HIS login form ends up in an alert. Two things keep it inert:

- the consoles here are built with rich's markup, emoji codes and highlighting off, so
  ``[/]`` or ``:warning:`` in a log field is printed as it is, never interpreted; styles are
  applied with ``rich.text.Text`` spans, which take no markup;
- ``printable`` escapes control characters (ESC, BEL, the C1 range, DEL) and the
  invisible Unicode characters that reorder or hide text (bidirectional overrides and
  isolates, line separators) as ``\\x1b`` / ``\\u202e``, so nothing in a field can clear the
  screen, set the window title or make a line read differently from what it holds.

``SafeFormatter`` does the same for log lines.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TextIO

from rich.console import Console

# C0 controls but tab and newline, DEL and C1, and the format characters that change how
# surrounding text is displayed (Trojan Source, CVE-2021-42574).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_MULTILINE = re.compile(f"[{_UNSAFE}]")
_ONE_LINE = re.compile(f"[{_UNSAFE}\t\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` with every character that could act on a terminal escaped.

    ``one_line`` also escapes tabs and newlines, for values shown inside a line (a user
    name in a table cell must not start a new row).
    """
    pattern = _ONE_LINE if one_line else _MULTILINE
    return pattern.sub(_escape, text) if pattern.search(text) else text


class LiteralConsole(Console):
    """A rich console that prints strings literally: no markup, no emoji codes, no
    highlighting, and control characters escaped (``printable``). Styled output is built
    with ``Text`` whose log-derived parts went through ``printable`` first."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(printable(o) if isinstance(o, str) else o for o in objects),
                      **kwargs)


def console(*, stderr: bool = False, file: TextIO | None = None) -> LiteralConsole:
    """A ``LiteralConsole``; on stderr ``soft_wrap`` keeps one-line messages on one line
    for the operator's grep."""
    return LiteralConsole(stderr=stderr, file=file, markup=False, emoji=False,
                          highlight=False, soft_wrap=stderr)


class SafeFormatter(logging.Formatter):
    """A log formatter whose message part is escaped with ``printable``: a log field
    quoted in a warning cannot forge a log line or drive the terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
