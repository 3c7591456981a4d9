"""The report as DOCX and PDF, read back: Decree 30 layout, fonts, Vietnamese text intact."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

from alerting.reports import layout as L
from alerting.reports import sample
from alerting.reports.docx_writer import render_docx
from alerting.reports.drafting import draft
from alerting.reports.model import ReportFacts
from alerting.reports.pdf_writer import render_pdf
from alerting.reports.profile import HospitalProfile
from alerting.reports.report import department_report

ISSUED = sample.local(2026, 12, 7, 10)


@pytest.fixture
def doc(facts: ReportFacts, hospital: HospitalProfile) -> L.AdminDocument:
    return department_report(facts, hospital, number=27, issued_at=ISSUED)


def _paragraphs(d: Any) -> list[Any]:
    """Every paragraph of the body and of its tables' cells, in order."""
    out = list(d.paragraphs)
    for t in d.tables:
        for row in t.rows:
            for cell in row.cells:
                out += cell.paragraphs
    return out


def _find(paras: list[Any], text: str) -> Any:
    for p in paras:
        if p.text.strip().startswith(text):
            return p
    raise AssertionError(f"no paragraph starting {text!r}")


def test_vietnamese_date_has_decree_30_zeros() -> None:
    z = sample.VN
    assert L.place_date("Thành phố Hồ Chí Minh", sample.local(2026, 12, 7, 10), z) == \
        "Thành phố Hồ Chí Minh, ngày 07 tháng 12 năm 2026"
    assert L.vn_date(sample.local(2026, 2, 15, 10), z) == "ngày 15 tháng 02 năm 2026"
    assert L.vn_date(sample.local(2026, 3, 5, 10), z) == "ngày 05 tháng 3 năm 2026"
    # 23:30 UTC on 31 Dec is New Year's Day in Ho Chi Minh City.
    assert L.vn_date(sample.local(2027, 1, 1, 6, 30), z) == "ngày 01 tháng 01 năm 2027"


def test_docx_page_fonts_sizes_and_alignment(doc: L.AdminDocument) -> None:
    d = Document(io.BytesIO(render_docx(doc, created=ISSUED)))
    s = d.sections[0]
    mm = [round(x / Mm(1), 1) for x in (s.page_width, s.page_height, s.top_margin,
                                        s.bottom_margin, s.left_margin, s.right_margin)]
    assert mm == [210.0, 297.0, 20.0, 20.0, 30.0, 15.0]
    paras = _paragraphs(d)
    runs = [r for p in paras for r in p.runs if r.text.strip()]
    assert runs and all(r.font.name == "Times New Roman" for r in runs)

    motto = _find(paras, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").runs[0]
    assert motto.font.bold and Pt(12) <= motto.font.size <= Pt(13)
    slogan = _find(paras, "Độc lập - Tự do - Hạnh phúc").runs[0]
    assert slogan.font.bold and Pt(13) <= slogan.font.size <= Pt(14)
    number = _find(paras, "Số: 27/BC-BVPSM").runs[0]
    assert number.font.size == Pt(13)
    date = _find(paras, "Thành phố Hồ Chí Minh, ngày 07 tháng 12 năm 2026")
    assert date.runs[0].font.italic and Pt(13) <= date.runs[0].font.size <= Pt(14)
    kind = _find(paras, "BÁO CÁO")
    assert kind.runs[0].font.bold and kind.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _find(paras, "Kính gửi: Sở Y tế Thành phố Hồ Chí Minh")
    issuer = _find(paras, "BỆNH VIỆN PHỤ SẢN MẪU").runs[0]
    assert issuer.font.bold

    body = _find(paras, "Thực hiện Công văn số 5565/SYT-TTra")
    assert body.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
    assert 10 <= body.paragraph_format.first_line_indent / Mm(1) <= 12.75
    assert Pt(13) <= body.runs[0].font.size <= Pt(14)

    label = _find(paras, "Nơi nhận:").runs[0]
    assert label.font.bold and label.font.italic and label.font.size == Pt(12)
    listed = [p for p in paras if p.text.startswith("- ") and p.runs[0].font.size == Pt(11)]
    assert listed[0].text == "- Như trên;"
    assert listed[-1].text == "- Lưu: VT, CNTT."
    assert _find(paras, "GIÁM ĐỐC").runs[0].font.bold
    assert _find(paras, "Nguyễn Văn Minh")


def test_docx_states_the_facts(doc: L.AdminDocument) -> None:
    d = Document(io.BytesIO(render_docx(doc)))
    text = "\n".join(p.text for p in _paragraphs(d))
    assert "Số người bệnh bị ảnh hưởng: 330 người bệnh." in text
    assert "dữ liệu cá nhân nhạy cảm theo Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15" in text
    assert "nv04512 – Lê Thị Hồng (midwife, san-b)" in text
    assert "45,0 MB (45.000.000 byte)" in text
    assert "17 giờ 03 phút, ngày 04/12/2026" in text
    assert "Thư điện tử: dpo@bvpsmau.example.vn." in text
    assert "BN2026" not in text
    assert d.core_properties.title.startswith("Báo cáo sự cố lộ lọt dữ liệu người bệnh")
    annex = d.tables[-1]
    assert annex.rows[0].cells[1].text == "Bí danh người bệnh"
    assert len(annex.rows) == 331


def test_pdf_text_keeps_diacritics_and_counts(doc: L.AdminDocument,
                                              pdf_text: Callable[[bytes], str]) -> None:
    text = pdf_text(render_pdf(doc))
    for needle in ("Sở Y tế", "người bệnh", "330 người bệnh", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA",
                   "Độc lập - Tự do - Hạnh phúc", "Số: 27/BC-BVPSM", "Nơi nhận:",
                   "Lưu: VT, CNTT.", "ngày 07 tháng 12 năm 2026", "Nguyễn Văn Minh"):
        assert needle in text, needle
    assert "BN2026" not in text


def test_pdf_embeds_a_times_metric_serif(doc: L.AdminDocument, tmp_path: Path,
                                        need: Callable[[str], str]) -> None:
    need("pdffonts")
    f = tmp_path / "r.pdf"
    f.write_bytes(render_pdf(doc))
    out = subprocess.run(["pdffonts", str(f)], check=True, capture_output=True,
                         text=True).stdout
    # reportlab declares Helvetica in every file (its F1, never used for text here).
    fonts = [line for line in out.splitlines()[2:] if not line.startswith("Helvetica ")]
    assert fonts and all(" yes yes " in line for line in fonts), out  # embedded subsets
    assert any("LiberationSerif" in line or "TimesNewRoman" in line for line in fonts)
    assert not any("DejaVu" in line for line in fonts)


def test_pdf_is_a4_and_page_one_renders(doc: L.AdminDocument, tmp_path: Path,
                                       need: Callable[[str], str]) -> None:
    need("pdftoppm")
    f = tmp_path / "r.pdf"
    f.write_bytes(render_pdf(doc))
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
                    str(f), str(tmp_path / "p1")], check=True)
    png = (tmp_path / "p1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert abs(height / width - 297 / 210) < 0.01


def test_pdf_is_reproducible(doc: L.AdminDocument) -> None:
    assert render_pdf(doc) == render_pdf(doc)


def test_a_draft_has_no_number(facts: ReportFacts, hospital: HospitalProfile,
                               pdf_text: Callable[[bytes], str]) -> None:
    docs = draft(facts, hospital, issued_at=ISSUED)
    text = pdf_text(docs.pdf)
    assert "DỰ THẢO" in text and "/BC-BVPSM" in text and "Số: 27" not in text
    assert "DỰ THẢO" in "\n".join(p.text for p in Document(io.BytesIO(docs.docx)).paragraphs)
