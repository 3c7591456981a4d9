"""``AdminDocument`` to DOCX with python-docx: the layout of ``layout``, in Word's terms.

Word is what the Department's clerks open and edit, so the DOCX names the font Decree 30
prescribes ("Times New Roman"; LibreOffice substitutes the metric-compatible Liberation
Serif) and uses real paragraph properties (alignment, first-line indent, sizes) rather
than spaces and tabs. The rules under the issuing body and under the slogan are paragraph
borders whose indents give them their length. python-docx writes text as XML text nodes,
so markup in a log field stays text; control characters, which lxml refuses, were
escaped by ``safe_text`` before they get here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table as DocxTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from reportlab.pdfbase.pdfmetrics import stringWidth

from alerting.reports import layout as L
from alerting.reports.errors import RenderError
from alerting.reports.fonts import find_serif
from alerting.reports.safe_text import clean

_ALIGN = {"justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT}
Container = DocxDocument | _Cell


def _font_name(rpr_owner: object) -> None:
    """Times New Roman for every script slot, so Vietnamese never falls to another font."""
    rpr = rpr_owner.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), L.FONT_FAMILY)


def _para(where: Container, text: str, size: float, *, bold: bool = False,
          italic: bool = False, align: L.Align = "center", indent: bool = False,
          space_after: float = 0.0, first: bool = False) -> Paragraph:
    """One paragraph with one run of cleaned text; ``first`` reuses a cell's empty one."""
    p = where.paragraphs[0] if first and isinstance(where, _Cell) else where.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = _ALIGN[align]
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(space_after)
    fmt.line_spacing = 1.0
    fmt.first_line_indent = Mm(L.FIRST_LINE_INDENT_MM) if indent else None
    run = p.add_run(clean(text, one_line=True))
    run.font.name = L.FONT_FAMILY
    _font_name(run._r)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    return p


def _rule(where: Container, length_mm: float, column_mm: float) -> None:
    """A centred horizontal rule ``length_mm`` long: an empty paragraph's bottom border."""
    p = where.add_paragraph()
    fmt = p.paragraph_format
    side = max((column_mm - length_mm) / 2, 0)
    fmt.left_indent = Mm(side)
    fmt.right_indent = Mm(side)
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(2)
    fmt.line_spacing = Pt(3)
    ppr = p._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(k), v)
    borders.append(bottom)
    ppr.append(borders)


def _width_mm(text: str, size: float, *, bold: bool) -> float:
    """Times metrics (Liberation Serif has the same widths) in millimetres."""
    face = find_serif().face(bold=bold)
    return stringWidth(clean(text), face, size) / 72 * 25.4


def _borderless(table: DocxTable, widths: Sequence[float]) -> None:
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = Mm(w)
    tblpr = table._tbl.tblPr
    mar = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(1 / 25.4 * 1440)))  # 1 mm in twips
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    tblpr.append(mar)


def _header(d: DocxDocument, doc: L.AdminDocument) -> None:
    t = d.add_table(rows=2, cols=2)
    _borderless(t, (L.HEADER_LEFT_MM, L.HEADER_RIGHT_MM))
    (left, right), (number, date) = t.rows[0].cells, t.rows[1].cells
    for i, line in enumerate(doc.issuing_body):
        _para(left, line.upper(), L.SIZE_BODY_LINE, first=i == 0)
    _para(left, doc.issuer.upper(), L.SIZE_ISSUER, bold=True, first=not doc.issuing_body)
    issuer_w = _width_mm(doc.issuer.upper(), L.SIZE_ISSUER, bold=True)
    _rule(left, min(max(issuer_w / 2, 20.0), L.HEADER_LEFT_MM - 4), L.HEADER_LEFT_MM - 2)
    _para(right, L.MOTTO, L.SIZE_MOTTO, bold=True, first=True)
    _para(right, L.SLOGAN, L.SIZE_SLOGAN, bold=True)
    _rule(right, _width_mm(L.SLOGAN, L.SIZE_SLOGAN, bold=True), L.HEADER_RIGHT_MM - 2)
    _para(number, doc.number, L.SIZE_NUMBER, first=True)
    _para(date, doc.place_date, L.SIZE_PLACE_DATE, italic=True, first=True)


def _table(d: DocxDocument, block: L.Table) -> None:
    """A grid table; rows are appended one by one (``Table.cell`` walks the whole grid on
    every call, which made a 330-row annex take minutes)."""
    t = d.add_table(rows=1, cols=len(block.header))
    t.style = "Table Grid"
    t.autofit = False
    widths = [Mm(w) for w in block.widths_mm]
    for cell, h, w in zip(t.rows[0].cells, block.header, widths, strict=True):
        cell.width = w
        _para(cell, h, L.SIZE_TABLE, bold=True, first=True)
    for row in block.rows:
        for cell, value, w in zip(t.add_row().cells, row, widths, strict=True):
            cell.width = w
            _para(cell, value, L.SIZE_TABLE, align="left", first=True)
    d.add_paragraph().paragraph_format.space_after = Pt(0)


def _blocks(d: DocxDocument, blocks: Sequence[L.Block]) -> None:
    sp = L.PARAGRAPH_SPACE_PT
    for b in blocks:
        if isinstance(b, L.Heading):
            _para(d, b.text, L.SIZE_TEXT, bold=True, align="justify", indent=True,
                  space_after=sp).paragraph_format.keep_with_next = True
        elif isinstance(b, L.Para):
            p = _para(d, b.text, b.size, bold=b.bold, italic=b.italic, align=b.align,
                      indent=b.indent, space_after=sp)
            p.paragraph_format.keep_with_next = b.bold
        elif isinstance(b, L.Bullet):
            _para(d, f"- {b.text}", L.SIZE_TEXT, align="justify", indent=True, space_after=sp)
        else:
            _table(d, b)


def _closing(d: DocxDocument, doc: L.AdminDocument) -> None:
    t = d.add_table(rows=1, cols=2)
    _borderless(t, (L.CLOSING_LEFT_MM, L.TEXT_WIDTH_MM - L.CLOSING_LEFT_MM))
    left, right = t.cell(0, 0), t.cell(0, 1)
    _para(left, "Nơi nhận:", L.SIZE_RECIPIENTS_LABEL, bold=True, italic=True, align="left",
          first=True)
    for line in L.recipients_list(doc.copies_to, doc.archive):
        _para(left, line, L.SIZE_RECIPIENTS, align="left")
    first = True
    if doc.signer_authority:
        _para(right, doc.signer_authority.upper(), L.SIZE_SIGNER, bold=True, first=True)
        first = False
    _para(right, doc.signer_title.upper(), L.SIZE_SIGNER, bold=True, first=first,
          space_after=80)
    _para(right, doc.signer_name, L.SIZE_SIGNER, bold=True)


def _page_numbers(d: DocxDocument) -> None:
    """Decree 30: numbers from page 2, centred at the top (a PAGE field)."""
    section = d.sections[0]
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), str(int(L.SIZE_PAGE_NUMBER * 2)))
    rpr.append(size)
    run.append(rpr)
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    p._p.append(field)


def _setup(d: DocxDocument, doc: L.AdminDocument, created: datetime | None) -> None:
    s = d.sections[0]
    s.orientation = WD_ORIENT.PORTRAIT
    s.page_width, s.page_height = Mm(L.PAGE_WIDTH_MM), Mm(L.PAGE_HEIGHT_MM)
    s.top_margin, s.bottom_margin = Mm(L.MARGIN_TOP_MM), Mm(L.MARGIN_BOTTOM_MM)
    s.left_margin, s.right_margin = Mm(L.MARGIN_LEFT_MM), Mm(L.MARGIN_RIGHT_MM)
    normal = d.styles["Normal"]
    normal.font.name = L.FONT_FAMILY
    normal.font.size = Pt(L.SIZE_TEXT)
    _font_name(normal.element)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "vi-VN")
    normal.element.get_or_add_rPr().append(lang)
    props = d.core_properties
    props.title = clean(doc.meta_title)
    props.subject = clean(doc.subject)
    props.author = clean(doc.meta_author)
    props.keywords = ", ".join(doc.keywords)
    props.language = "vi-VN"
    props.comments = "phiwatch"
    if created is not None:
        props.created = props.modified = created.replace(tzinfo=None)


def render_docx(doc: L.AdminDocument, *, created: datetime | None = None) -> bytes:
    """The DOCX bytes of ``doc``; ``created`` (UTC) goes into the file's properties."""
    try:
        d = Document()
        _setup(d, doc, created)
        if doc.draft:
            _para(d, "DỰ THẢO", L.SIZE_TEXT, bold=True, align="right")
        _header(d, doc)
        _para(d, doc.doc_type.upper(), L.SIZE_DOC_TYPE, bold=True).paragraph_format \
            .space_before = Pt(10)
        _para(d, doc.subject, L.SIZE_SUBJECT, bold=True)
        subject_w = min(_width_mm(doc.subject, L.SIZE_SUBJECT, bold=True), L.TEXT_WIDTH_MM)
        _rule(d, max(subject_w / 3, 30.0), L.TEXT_WIDTH_MM)
        if len(doc.recipient) == 1:
            _para(d, f"Kính gửi: {doc.recipient[0]}", L.SIZE_TEXT, space_after=8)
        else:
            _para(d, "Kính gửi:", L.SIZE_TEXT)
            for r in doc.recipient:
                _para(d, f"- {r};", L.SIZE_TEXT, space_after=2)
        _blocks(d, doc.body)
        _closing(d, doc)
        for annex in doc.annexes:
            d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            _para(d, annex.title.upper(), L.SIZE_DOC_TYPE, bold=True)
            _para(d, annex.subtitle, L.SIZE_SUBJECT, bold=True)
            _para(d, annex.note, L.SIZE_PLACE_DATE, italic=True, space_after=10)
            _blocks(d, annex.blocks)
        _page_numbers(d)
        buf = io.BytesIO()
        d.save(buf)
    except (ValueError, KeyError) as e:
        raise RenderError("DOCX", f"{type(e).__name__}: {e}") from e
    return buf.getvalue()
