"""The administrative document, format-neutral: what goes where under Decree 30/2020/NĐ-CP.

Content builders (``report``, ``breach``) fill an ``AdminDocument``; the writers
(``docx_writer``, ``pdf_writer``) lay it out with the numbers below, so the DOCX and the
PDF of one report always carry the same words in the same places, and the report to the
Department and the breach notification share one layout.

Decree 30/2020/NĐ-CP, Appendix I (as DESIGN.md records it): A4; margins top and bottom
20–25 mm, left 30–35 mm, right 15–20 mm; Times New Roman or a metric-compatible serif;
national motto in capitals 12–13 pt bold, slogan 13–14 pt bold with a rule of its own
length under it; "Số: …" 13 pt; place and date 13–14 pt italic; document type in capitals
13–14 pt bold; body 13–14 pt justified with a first-line indent of 1–1.27 cm; "Nơi nhận:"
12 pt bold italic and its list 11 pt ending "- Lưu: VT, …". Page numbers from page 2,
centred at the top. Within those ranges the values chosen here make the header fit its two
columns on one line each (motto 13 pt is 95.7 mm in Times bold; the right column is 103 mm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

# Page, in millimetres.
PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_TOP_MM = 20.0
MARGIN_BOTTOM_MM = 20.0
MARGIN_LEFT_MM = 30.0
MARGIN_RIGHT_MM = 15.0
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM
HEADER_LEFT_MM = 62.0
HEADER_RIGHT_MM = TEXT_WIDTH_MM - HEADER_LEFT_MM
#: Closing block: recipients list left, signer right.
CLOSING_LEFT_MM = 80.0

# Type, in points.
FONT_FAMILY = "Times New Roman"
SIZE_BODY_LINE = 13.0          # issuing body lines (12–13)
SIZE_ISSUER = 13.0
SIZE_MOTTO = 13.0              # 12–13, bold capitals
SIZE_SLOGAN = 14.0             # 13–14, bold
SIZE_NUMBER = 13.0             # "Số: …"
SIZE_PLACE_DATE = 13.0         # 13–14, italic
SIZE_DOC_TYPE = 14.0           # 13–14, bold capitals
SIZE_SUBJECT = 14.0
SIZE_TEXT = 14.0               # body 13–14
SIZE_RECIPIENTS_LABEL = 12.0   # "Nơi nhận:" bold italic
SIZE_RECIPIENTS = 11.0
SIZE_SIGNER = 14.0
SIZE_TABLE = 12.0
SIZE_PAGE_NUMBER = 13.0
FIRST_LINE_INDENT_MM = 12.7    # 1.27 cm
PARAGRAPH_SPACE_PT = 6.0
LINE_SPACING = 1.15            # single to 1.5 lines

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
SLOGAN = "Độc lập - Tự do - Hạnh phúc"

Align = Literal["justify", "center", "left", "right"]


@dataclass(frozen=True, slots=True)
class Heading:
    """A numbered section title in the body (bold, indented like a paragraph)."""

    text: str


@dataclass(frozen=True, slots=True)
class Para:
    text: str
    align: Align = "justify"
    indent: bool = True
    bold: bool = False
    italic: bool = False
    size: float = SIZE_TEXT


@dataclass(frozen=True, slots=True)
class Bullet:
    """A list item, printed "- text" with the body's first-line indent."""

    text: str


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths_mm: tuple[float, ...]


Block = Heading | Para | Bullet | Table


@dataclass(frozen=True, slots=True)
class Annex:
    """A numbered appendix on its own page: title, a note under it, then its blocks."""

    title: str
    subtitle: str
    note: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class AdminDocument:
    """One document as Decree 30 arranges it, top to bottom."""

    issuing_body: tuple[str, ...]
    issuer: str
    number: str
    place_date: str
    doc_type: str
    subject: str
    recipient: tuple[str, ...]
    body: tuple[Block, ...]
    copies_to: tuple[str, ...]
    archive: str
    signer_authority: str
    signer_title: str
    signer_name: str
    annexes: tuple[Annex, ...] = ()
    #: A draft says so at the top and has no number yet.
    draft: bool = False
    #: Document properties (title, subject, author) for the files' metadata.
    meta_title: str = ""
    meta_author: str = ""
    keywords: tuple[str, ...] = field(default=())


def vn_date(dt: datetime, zone: ZoneInfo) -> str:
    """"ngày 07 tháng 12 năm 2026": day below 10 and months 1–2 with a leading zero
    (Decree 30/2020, Appendix I)."""
    local = dt.astimezone(zone)
    month = f"{local.month:02d}" if local.month < 3 else str(local.month)
    return f"ngày {local.day:02d} tháng {month} năm {local.year}"


def place_date(place: str, dt: datetime, zone: ZoneInfo) -> str:
    return f"{place}, {vn_date(dt, zone)}"


def vn_time(dt: datetime, zone: ZoneInfo) -> str:
    """"14 giờ 05 phút, ngày 03/12/2026" in the hospital's zone."""
    local = dt.astimezone(zone)
    return f"{local.hour:02d} giờ {local.minute:02d} phút, ngày {local:%d/%m/%Y}"


def vn_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """"từ 13 giờ 30 phút đến 16 giờ 22 phút, ngày 02/12/2026" (one day) or two full times."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return (f"từ {a.hour:02d} giờ {a.minute:02d} phút đến {b.hour:02d} giờ "
                f"{b.minute:02d} phút, ngày {a:%d/%m/%Y}")
    return f"từ {vn_time(a, zone)} đến {vn_time(b, zone)}"


def recipients_list(copies_to: tuple[str, ...], archive: str) -> list[str]:
    """The "Nơi nhận:" lines: "- X;" each, the last "- Lưu: VT, …."."""
    lines = [f"- {c.rstrip(';. ')};" for c in copies_to if c.strip()]
    return [*lines, f"- Lưu: {archive.rstrip('. ')}."]
