"""``AdminDocument`` to PDF with reportlab, the font embedded, text never read as markup.

reportlab's ``Paragraph`` parses an XML-like markup (``<b>``, ``<font>``, ``&amp;``), so
every string is escaped (``&``, ``<``, ``>``) before it reaches one: a user name such as
``<font size=80>`` prints as those characters. Styles come from separate faces of the
font, never from inline tags. The output is reproducible (``invariant``): the same
document gives the same bytes, so its SHA-256 in the signed copy is stable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    HRFlowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

from alerting.reports import layout as L
from alerting.reports.errors import RenderError
from alerting.reports.fonts import SerifFont, find_serif
from alerting.reports.safe_text import clean

#: reportlab's alignment codes (TA_LEFT, TA_CENTER, TA_RIGHT, TA_JUSTIFY).
_ALIGN: dict[str, Literal[0, 1, 2, 4]] = {"left": 0, "center": 1, "right": 2, "justify": 4}


class _Styles:
    def __init__(self, font: SerifFont) -> None:
        self.font = font
        self._cache: dict[tuple[Any, ...], ParagraphStyle] = {}

    def __call__(self, size: float, *, bold: bool = False, italic: bool = False,
                 align: L.Align = "center", indent_mm: float = 0.0,
                 space_after: float = 0.0, keep: bool = False) -> ParagraphStyle:
        key = (size, bold, italic, align, indent_mm, space_after, keep)
        if key not in self._cache:
            self._cache[key] = ParagraphStyle(
                name=f"s{len(self._cache)}", fontName=self.font.face(bold, italic),
                fontSize=size, leading=size * L.LINE_SPACING * 1.05, alignment=_ALIGN[align],
                firstLineIndent=indent_mm * mm, spaceAfter=space_after,
                splitLongWords=True, allowWidows=0, allowOrphans=0, keepWithNext=keep)
        return self._cache[key]


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph whose text is data: cleaned, then escaped for reportlab's markup."""
    return Paragraph(escape(clean(text, one_line=True)), style)


def _rule(width_pt: float) -> HRFlowable:
    return HRFlowable(width=width_pt, thickness=0.6, color="black", hAlign="CENTER",
                      spaceBefore=4, spaceAfter=2)


def _header(doc: L.AdminDocument, st: _Styles) -> list[Flowable]:
    f = st.font
    left: list[Flowable] = [_p(line.upper(), st(L.SIZE_BODY_LINE)) for line in doc.issuing_body]
    left.append(_p(doc.issuer.upper(), st(L.SIZE_ISSUER, bold=True)))
    issuer_w = stringWidth(clean(doc.issuer.upper()), f.face(True), L.SIZE_ISSUER)
    left.append(_rule(min(max(issuer_w / 2, 20 * mm), (L.HEADER_LEFT_MM - 4) * mm)))
    right: list[Flowable] = [_p(L.MOTTO, st(L.SIZE_MOTTO, bold=True)),
                             _p(L.SLOGAN, st(L.SIZE_SLOGAN, bold=True)),
                             _rule(stringWidth(L.SLOGAN, f.face(True), L.SIZE_SLOGAN))]
    number = [_p(doc.number, st(L.SIZE_NUMBER))]
    date = [_p(doc.place_date, st(L.SIZE_PLACE_DATE, italic=True))]
    t = RLTable([[left, right], [number, date]],
                colWidths=[L.HEADER_LEFT_MM * mm, L.HEADER_RIGHT_MM * mm])
    t.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("LEFTPADDING", (0, 0), (-1, -1), 1 * mm), ("RIGHTPADDING", (0, 0), (-1, -1), 1 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 1), (-1, 1), 4),
    ]))
    return [t]


def _table(block: L.Table, st: _Styles) -> RLTable:
    head = [_p(h, st(L.SIZE_TABLE, bold=True)) for h in block.header]
    rows = [[_p(c, st(L.SIZE_TABLE, align="left")) for c in r] for r in block.rows]
    t = RLTable([head, *rows], colWidths=[w * mm for w in block.widths_mm], repeatRows=1)
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, "black"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 1.5 * mm), ("RIGHTPADDING", (0, 0), (-1, -1), 1.5 * mm),
    ]))
    return t


def _blocks(blocks: Sequence[L.Block], st: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    sp = L.PARAGRAPH_SPACE_PT
    for b in blocks:
        if isinstance(b, L.Heading):
            out.append(_p(b.text, st(L.SIZE_TEXT, bold=True, align="justify",
                                     indent_mm=L.FIRST_LINE_INDENT_MM, space_after=sp,
                                     keep=True)))
        elif isinstance(b, L.Para):
            out.append(_p(b.text, st(b.size, bold=b.bold, italic=b.italic, align=b.align,
                                     indent_mm=L.FIRST_LINE_INDENT_MM if b.indent else 0,
                                     space_after=sp, keep=b.bold)))
        elif isinstance(b, L.Bullet):
            out.append(_p(f"- {b.text}", st(L.SIZE_TEXT, align="justify",
                                            indent_mm=L.FIRST_LINE_INDENT_MM, space_after=sp)))
        else:
            out += [_table(b, st), Spacer(1, sp)]
    return out


def _closing(doc: L.AdminDocument, st: _Styles) -> Flowable:
    left: list[Flowable] = [_p("Nơi nhận:", st(L.SIZE_RECIPIENTS_LABEL, bold=True,
                                                italic=True, align="left"))]
    left += [_p(line, st(L.SIZE_RECIPIENTS, align="left"))
             for line in L.recipients_list(doc.copies_to, doc.archive)]
    right: list[Flowable] = []
    if doc.signer_authority:
        right.append(_p(doc.signer_authority.upper(), st(L.SIZE_SIGNER, bold=True)))
    right += [_p(doc.signer_title.upper(), st(L.SIZE_SIGNER, bold=True)),
              Spacer(1, 28 * mm), _p(doc.signer_name, st(L.SIZE_SIGNER, bold=True))]
    t = RLTable([[left, right]], colWidths=[L.CLOSING_LEFT_MM * mm,
                                            (L.TEXT_WIDTH_MM - L.CLOSING_LEFT_MM) * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([Spacer(1, 6), t])


def _page_number(canvas: Canvas, template: Any) -> None:
    """Decree 30: page numbers from page 2, centred in the top margin."""
    canvas.saveState()
    canvas.setFont(template.phiwatch_font, L.SIZE_PAGE_NUMBER)
    canvas.drawCentredString(
        (L.MARGIN_LEFT_MM + L.TEXT_WIDTH_MM / 2) * mm,
        (L.PAGE_HEIGHT_MM - L.MARGIN_TOP_MM / 2) * mm, str(canvas.getPageNumber()))
    canvas.restoreState()


def render_pdf(doc: L.AdminDocument, *, font: SerifFont | None = None) -> bytes:
    """The PDF bytes of ``doc``; ``RenderError`` if reportlab cannot lay it out."""
    font = font or find_serif()
    st = _Styles(font)
    story: list[Flowable] = []
    if doc.draft:
        story.append(_p("DỰ THẢO", st(L.SIZE_TEXT, bold=True, align="right")))
    story += _header(doc, st)
    story += [Spacer(1, 10), _p(doc.doc_type.upper(), st(L.SIZE_DOC_TYPE, bold=True)),
              _p(doc.subject, st(L.SIZE_SUBJECT, bold=True))]
    subject_w = min(stringWidth(clean(doc.subject), font.face(True), L.SIZE_SUBJECT),
                    L.TEXT_WIDTH_MM * mm)
    story += [_rule(max(subject_w / 3, 30 * mm)), Spacer(1, 6)]
    if len(doc.recipient) == 1:
        story.append(_p(f"Kính gửi: {doc.recipient[0]}", st(L.SIZE_TEXT, space_after=8)))
    else:
        story.append(_p("Kính gửi:", st(L.SIZE_TEXT)))
        story += [_p(f"- {r};", st(L.SIZE_TEXT, space_after=2)) for r in doc.recipient]
        story.append(Spacer(1, 6))
    story += _blocks(doc.body, st)
    story.append(_closing(doc, st))
    for annex in doc.annexes:
        story += [PageBreak(), _p(annex.title.upper(), st(L.SIZE_DOC_TYPE, bold=True)),
                  _p(annex.subtitle, st(L.SIZE_SUBJECT, bold=True)),
                  _p(annex.note, st(L.SIZE_PLACE_DATE, italic=True, space_after=10))]
        story += _blocks(annex.blocks, st)
    buf = io.BytesIO()
    template = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=L.MARGIN_LEFT_MM * mm, rightMargin=L.MARGIN_RIGHT_MM * mm,
        topMargin=L.MARGIN_TOP_MM * mm, bottomMargin=L.MARGIN_BOTTOM_MM * mm,
        title=clean(doc.meta_title), author=clean(doc.meta_author),
        subject=clean(doc.subject), creator="phiwatch", keywords=list(doc.keywords),
        invariant=True, lang="vi", initialFontName=font.face(),
        initialFontSize=L.SIZE_TEXT)
    template.phiwatch_font = font.face()  # type: ignore[attr-defined]
    try:
        template.build(story, onLaterPages=_page_number)
    except Exception as e:  # reportlab raises LayoutError and plain errors alike
        raise RenderError("PDF", f"{type(e).__name__}: {e}") from e
    return buf.getvalue()
