"""The report to the Department of Health (BÁO CÁO), arranged from ``ReportFacts``.

It answers point 5 of letter 5565/SYT-TTra ("report promptly to the Department ... when
patient information leaks") and so cites it; it states, in this order, how and when the
leak was detected, when it happened, which systems, accounts and workstations were
involved, which data and how much (health data being sensitive personal data), the cause
as far as known, the likely consequences, the measures taken and planned, who else was
told, and whom to contact; the affected patients follow in an annex, by pseudonym only.
"""

from __future__ import annotations

from datetime import datetime

from alerting.reports import layout as L
from alerting.reports import wording as W
from alerting.reports.model import ReportFacts
from alerting.reports.profile import HospitalProfile

SYMBOL = "BC"
LETTER_5565 = ("Công văn số 5565/SYT-TTra ngày 19 tháng 6 năm 2024 của Sở Y tế Thành phố "
               "Hồ Chí Minh")


def department_report(
    facts: ReportFacts,
    hospital: HospitalProfile,
    *,
    number: int | None,
    issued_at: datetime,
    delay_reason: str | None = None,
) -> L.AdminDocument:
    """The BÁO CÁO for ``facts``; ``number`` None makes a draft (no number yet)."""
    z = hospital.zone
    f = facts
    detected_day = f"{f.detected_at.astimezone(z):%d/%m/%Y}"
    body: list[L.Block] = [L.Para(
        f"Thực hiện {LETTER_5565} về việc kịp thời báo cáo khi phát hiện sự cố rò rỉ thông "
        f"tin người bệnh, {hospital.name} báo cáo sự cố lộ lọt dữ liệu người bệnh như sau:")]

    body += [L.Heading("1. Thời điểm và cách thức phát hiện"),
             L.Para(f"Sự cố được phát hiện lúc {L.vn_time(f.detected_at, z)} (giờ Việt Nam). "
                    f"{f.detection_method}. Mức độ: "
                    f"{W.SEVERITY_NAMES.get(f.severity, f.severity)}."),
             L.Para("Các cảnh báo của hệ thống:")]
    body += [L.Bullet(f"«{a.title}» (mức độ {W.SEVERITY_NAMES.get(a.severity, a.severity)}, "
                      f"{L.vn_span(a.window_start, a.window_end, z)}): "
                      f"{a.explanation}") for a in f.alerts]

    body += [L.Heading("2. Thời gian xảy ra"), L.Para(W.occurred(f, z))]

    body.append(L.Heading("3. Hệ thống, tài khoản và máy trạm liên quan"))
    body += [L.Bullet(f"Hệ thống: {s}.") for s in f.systems]
    body += [L.Bullet(f"Tài khoản: {W.account(a)}.") for a in f.accounts]
    body += [L.Bullet(f"Máy trạm: {W.station(w)}.") for w in f.workstations]
    body += [L.Bullet(f"Địa chỉ nhận dữ liệu bên ngoài: {d}.") for d in f.destinations]

    body.append(L.Heading("4. Loại dữ liệu và số lượng"))
    body += [L.Bullet(f"{c}.".replace("..", ".")) for c in f.data_categories]
    body.append(L.Para(W.LAW_SENSITIVE))
    body += [L.Bullet(line) for line in W.amount(f)]

    body.append(L.Heading("5. Nguyên nhân (theo thông tin đến thời điểm báo cáo)"))
    body += [L.Bullet(c) for c in f.cause] or [L.Para("Đang xác minh.")]

    body.append(L.Heading("6. Hậu quả có thể xảy ra"))
    body += [L.Bullet(c) for c in f.consequences]

    body.append(L.Heading("7. Biện pháp đã thực hiện"))
    body += [L.Bullet(m) for m in W.measures_taken(f, z)] or [L.Para("Chưa có.")]

    body.append(L.Heading("8. Biện pháp dự kiến thực hiện"))
    body += [L.Bullet(m) for m in f.measures_planned]

    body.append(L.Heading("9. Thông báo cho cơ quan, tổ chức, cá nhân khác"))
    body += [L.Bullet(n) for n in W.notified(f, z)] or [L.Para("Chưa thông báo.")]

    body.append(L.Heading("10. Đầu mối liên hệ về bảo vệ dữ liệu cá nhân"))
    body += [L.Bullet(line) for line in W.contact_lines(f)]

    if delay_reason:
        body += [L.Heading("11. Lý do báo cáo chậm"), L.Para(delay_reason)]

    body.append(L.Para(f"{hospital.name} kính báo cáo Sở Y tế Thành phố Hồ Chí Minh xem xét, "
                       "chỉ đạo./."))
    number_text = W.number_line(number, SYMBOL, hospital.code)
    of = (f"Báo cáo số {number}/{SYMBOL}-{hospital.code} {L.vn_date(issued_at, z)} của "
          f"{hospital.name}" if number is not None else f"Báo cáo của {hospital.name}")
    return L.AdminDocument(
        issuing_body=hospital.issuing_body,
        issuer=hospital.name,
        number=number_text,
        place_date=L.place_date(hospital.place, issued_at, z),
        doc_type="Báo cáo",
        subject=f"Sự cố lộ lọt dữ liệu người bệnh phát hiện ngày {detected_day}",
        recipient=(hospital.recipient,),
        body=tuple(body),
        copies_to=hospital.copies_to,
        archive=hospital.archive,
        signer_authority=hospital.signer.authority,
        signer_title=hospital.signer.title,
        signer_name=hospital.signer.name,
        annexes=(W.patients_annex(f, z, of=of),),
        draft=number is None,
        meta_title=f"Báo cáo sự cố lộ lọt dữ liệu người bệnh – {number_text}",
        meta_author=hospital.name,
        keywords=("phiwatch", f"incident:{f.incident_id}", f"hospital:{f.hospital_id}"),
    )
