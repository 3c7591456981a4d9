"""Text from logs is data in a document too: inert, bounded, and whole Vietnamese.

A user name typed into the HIS login form, an alert's sentence or an analyst's note ends
up in a report to the Department. Three things keep it harmless:

- control characters, lone surrogates and XML-forbidden code points (which make
  python-docx/lxml raise, and PDF text extraction lie) and the invisible characters that
  reorder text (bidirectional overrides and isolates, CVE-2021-42574) are escaped as
  visible ``\\x1b`` / ``\\u202e``, as phiwatch's consoles do: nothing is silently dropped,
  nothing acts;
- every field is cut to a length limit with an ellipsis, so a 10 kB "name" cannot push a
  report onto forty pages;
- text is NFC-normalised: decomposed diacritics (``e`` + U+0302 + U+0301) become the
  precomposed letters (``ế``) the fonts have glyphs for.

Markup is the writers' business (the PDF writer escapes ``&``, ``<``, ``>``;
python-docx writes text nodes), not this module's.
"""

from __future__ import annotations

import re
import unicodedata

NAME_LIMIT = 200
LINE_LIMIT = 2000

_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufeff\ufff9-\ufffb\ufffe\uffff"
)
_MULTILINE = re.compile(f"[{_UNSAFE}]")
_ONE_LINE = re.compile(f"[{_UNSAFE}\t\r\n]")
_SPACES = re.compile(r"[ \t]+")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, limit: int = LINE_LIMIT, one_line: bool = True) -> str:
    """``text`` made safe for a document field: NFC, escaped, whitespace tidied, cut.

    ``one_line`` also escapes tabs and newlines (a name must not start a new line).
    Idempotent: cleaning clean text changes nothing.
    """
    s = text if isinstance(text, str) else str(text)
    # Escape before normalising: NFC must not see (or combine) a lone surrogate.
    s = (_ONE_LINE if one_line else _MULTILINE).sub(_escape, s)
    s = unicodedata.normalize("NFC", s)
    s = _SPACES.sub(" ", s).strip()
    if len(s) > limit:
        s = s[: max(limit - 1, 0)].rstrip() + "…"
    return s


def name(text: object) -> str:
    """A short one-line value: a user name, a host, a module."""
    return clean(text, limit=NAME_LIMIT)
