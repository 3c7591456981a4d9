"""The PDF's serif: Times New Roman when installed, else Liberation Serif 2 (same metrics).

A PDF must embed its font to show Vietnamese on a machine that lacks it, and the font
must have every precomposed Vietnamese letter: Liberation Serif 1.x (Debian's
``fonts-liberation``) lacks ``ạ ế ở ư …`` and would print empty boxes; Liberation 2.x
(``fonts-liberation2``) has them. DejaVu has them too but is wider than Times, so the
header would no longer fit its columns: it is not a fallback. Each candidate is checked
for coverage before use, so a wrong font fails here with the install command, not as
boxes in a report to the Department.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont, TTFontFile

from alerting.reports.errors import FontError

INSTALL_HINT = "apt-get install fonts-liberation2"
#: Every Vietnamese letter with its tone marks, both cases.
VIETNAMESE = (
    "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
)
_CHARS = frozenset(VIETNAMESE + VIETNAMESE.upper() + "–…«»")
_DIRS = (
    "/usr/share/fonts/truetype/msttcorefonts",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/liberation-serif",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
#: File names of each family's four styles (regular, bold, italic, bold italic).
_FAMILIES: tuple[tuple[str, tuple[str, str, str, str]], ...] = (
    ("Times New Roman", ("Times_New_Roman.ttf", "Times_New_Roman_Bold.ttf",
                         "Times_New_Roman_Italic.ttf", "Times_New_Roman_Bold_Italic.ttf")),
    ("Times New Roman", ("times.ttf", "timesbd.ttf", "timesi.ttf", "timesbi.ttf")),
    ("Liberation Serif", ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf",
                          "LiberationSerif-Italic.ttf", "LiberationSerif-BoldItalic.ttf")),
)


@dataclass(frozen=True, slots=True)
class SerifFont:
    """Four TrueType files of one family, registered with reportlab under ``name``."""

    family: str
    paths: tuple[Path, Path, Path, Path]  # regular, bold, italic, bold italic

    @property
    def name(self) -> str:
        return "PhiSerif"

    def face(self, bold: bool = False, italic: bool = False) -> str:
        return self.name + ("-Bold" if bold else "") + ("-Italic" if italic else "")


def missing_glyphs(path: Path) -> set[str]:
    """The Vietnamese letters ``path`` has no glyph for."""
    try:
        f = TTFontFile(str(path))
    except (TTFError, OSError) as e:
        raise FontError(str(path), f"cannot read the font: {e}") from e
    return {c for c in _CHARS if ord(c) not in f.charToGlyph}


def _candidates(dirs: tuple[str, ...]) -> list[tuple[str, tuple[Path, ...]]]:
    return [(family, tuple(Path(d) / f for f in files))
            for d in (*dirs, *_DIRS) for family, files in _FAMILIES]


@cache
def find_serif(extra_dirs: tuple[str, ...] = ()) -> SerifFont:
    """The first installed Times-metric serif with full Vietnamese coverage, registered.

    ``PHIWATCH_FONT_DIR`` (and ``extra_dirs``) are searched first, for a hospital that
    installs Times New Roman somewhere of its own.
    """
    env = os.environ.get("PHIWATCH_FONT_DIR")
    dirs = ((env,) if env else ()) + extra_dirs
    rejected: list[str] = []
    for family, paths in _candidates(dirs):
        if not all(p.is_file() for p in paths):
            continue
        gaps = set().union(*(missing_glyphs(p) for p in paths))
        if gaps:
            rejected.append(f"{paths[0]} lacks {''.join(sorted(gaps))[:20]}…")
            continue
        font = SerifFont(family, (paths[0], paths[1], paths[2], paths[3]))
        _register(font)
        return font
    why = "; ".join(rejected) if rejected else "none installed"
    raise FontError("PDF font", f"no Times-metric serif with Vietnamese letters ({why}); "
                                f"install one: {INSTALL_HINT}")


def _register(font: SerifFont) -> None:
    faces = [font.face(), font.face(bold=True), font.face(italic=True),
             font.face(bold=True, italic=True)]
    for face, path in zip(faces, font.paths, strict=True):
        if face not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(face, str(path)))
    pdfmetrics.registerFontFamily(font.name, normal=faces[0], bold=faces[1],
                                  italic=faces[2], boldItalic=faces[3])
