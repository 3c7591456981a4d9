"""The breach notification (Mẫu số 08, Decree 356/2025): the four groups of Art. 28.1."""

from __future__ import annotations

import io
from collections.abc import Callable

from docx import Document

from alerting.reports import sample
from alerting.reports.breach import breach_notification
from alerting.reports.docx_writer import render_docx
from alerting.reports.model import ReportFacts
from alerting.reports.pdf_writer import render_pdf
from alerting.reports.profile import HospitalProfile

ISSUED = sample.local(2026, 12, 5, 11)


def test_notification_has_the_forms_sections(facts: ReportFacts, hospital: HospitalProfile,
                                            pdf_text: Callable[[bytes], str]) -> None:
    doc = breach_notification(facts, hospital, number=28, issued_at=ISSUED)
    text = " ".join(pdf_text(render_pdf(doc)).split())
    for needle in (
        "THÔNG BÁO", "Vi phạm quy định về bảo vệ dữ liệu cá nhân", "Số: 28/TB-BVPSM",
        "Kính gửi: Bộ Công an (Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ "
        "cao)",
        "Điều 23 Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15",
        "Điều 28 Nghị định số 356/2025/NĐ-CP",
        "II. Mô tả tính chất của vi phạm", "1. Thời gian:", "2. Địa điểm:",
        "3. Hành vi vi phạm:", "4. Tổ chức, cá nhân liên quan:",
        "5. Loại dữ liệu cá nhân liên quan:", "6. Số lượng dữ liệu cá nhân liên quan:",
        "III. Thông tin liên hệ của nhân sự phụ trách bảo vệ dữ liệu cá nhân",
        "IV. Mô tả các hậu quả, thiệt hại có thể xảy ra",
        "V. Mô tả các biện pháp đã thực hiện",
        "330 người bệnh", "dữ liệu cá nhân nhạy cảm", "dpo@bvpsmau.example.vn",
        "Sở Y tế Thành phố Hồ Chí Minh (để báo cáo)", "Lưu: VT, CNTT.",
    ):
        assert needle in text, needle
    assert "Lý do thông báo" not in text and "PHỤ LỤC" not in text


def test_late_notice_carries_the_reason_and_annex_is_optional(
        facts: ReportFacts, hospital: HospitalProfile) -> None:
    doc = breach_notification(facts, hospital, number=29, issued_at=ISSUED,
                              delay_reason="Máy chủ nhật ký bị gián đoạn", include_annex=True)
    d = Document(io.BytesIO(render_docx(doc)))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "VI. Lý do thông báo sau 72 giờ" in text
    assert "Máy chủ nhật ký bị gián đoạn" in text
    assert "PHỤ LỤC" in text and len(d.tables[-1].rows) == 331
