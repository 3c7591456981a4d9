"""The breach notification to the data-protection agency (Mẫu số 08, Decree 356/2025/NĐ-CP).

Law 91/2025/QH15 Art. 23 and Decree 356/2025/NĐ-CP Art. 28 require the controller to
notify the Ministry of Public Security's data-protection agency (Cục An ninh mạng và
phòng, chống tội phạm sử dụng công nghệ cao, A05) within 72 hours of detecting a
violation, with four groups of content (Art. 28.1): a description of the violation (time,
place, act, organisations and individuals, categories and amount of personal data); the
contact of the person in charge of data protection; the likely consequences and damage;
the measures taken to address it and minimise harm. This module arranges the same
``ReportFacts`` under those four headings, after a section naming the controller, in the
administrative layout shared with the Department's report (see docs/reports.md for what
of the form's wording was verified and what follows the article text).
"""

from __future__ import annotations

from datetime import datetime

from alerting.reports import layout as L
from alerting.reports import wording as W
from alerting.reports.model import ReportFacts
from alerting.reports.profile import HospitalProfile

SYMBOL = "TB"
FORM = "Mẫu số 08 ban hành kèm theo Nghị định số 356/2025/NĐ-CP"


def breach_notification(
    facts: ReportFacts,
    hospital: HospitalProfile,
    *,
    number: int | None,
    issued_at: datetime,
    delay_reason: str | None = None,
    include_annex: bool = False,
) -> L.AdminDocument:
    """The THÔNG BÁO for ``facts``; ``number`` None makes a draft.

    ``include_annex`` attaches the pseudonymised patient list (the agency may ask for it;
    by default the notification states the count only).
    """
    z = hospital.zone
    f = facts
    body: list[L.Block] = [L.Para(
        "Thực hiện quy định tại Điều 23 Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15 và Điều 28 "
        f"Nghị định số 356/2025/NĐ-CP, {hospital.name} (bên kiểm soát dữ liệu cá nhân) thông "
        "báo vi phạm quy định về bảo vệ dữ liệu cá nhân như sau:")]

    body.append(L.Heading("I. Thông tin về bên kiểm soát dữ liệu cá nhân"))
    body.append(L.Bullet(f"Tên tổ chức: {hospital.name}."))
    if hospital.address:
        body.append(L.Bullet(f"Địa chỉ: {hospital.address}."))
    body.append(L.Bullet(f"Cơ quan quản lý trực tiếp: {hospital.recipient}."))

    body.append(L.Heading("II. Mô tả tính chất của vi phạm"))
    body.append(L.Para("1. Thời gian:", indent=True, bold=True))
    body += [L.Bullet(W.occurred(f, z)),
             L.Bullet(f"Thời điểm phát hiện: {L.vn_time(f.detected_at, z)} (giờ Việt Nam). "
                      f"{f.detection_method}.")]
    body.append(L.Para("2. Địa điểm:", indent=True, bold=True))
    where = [f"Hệ thống: {s}." for s in f.systems]
    where += [f"Máy trạm: {W.station(w)}." for w in f.workstations]
    where += [f"Dữ liệu được gửi tới: {d}." for d in f.destinations]
    body += [L.Bullet(w) for w in where] or [L.Bullet(f"Tại {hospital.name}.")]
    body.append(L.Para("3. Hành vi vi phạm:", indent=True, bold=True))
    body += [L.Bullet(c) for c in f.cause] or [L.Bullet("Đang xác minh.")]
    body.append(L.Para("4. Tổ chức, cá nhân liên quan:", indent=True, bold=True))
    body += [L.Bullet(f"Tài khoản: {W.account(a)}.") for a in f.accounts] or [
        L.Bullet("Chưa xác định.")]
    body.append(L.Para("5. Loại dữ liệu cá nhân liên quan:", indent=True, bold=True))
    body += [L.Bullet(f"{c}.".replace("..", ".")) for c in f.data_categories]
    body.append(L.Bullet(W.LAW_SENSITIVE))
    body.append(L.Para("6. Số lượng dữ liệu cá nhân liên quan:", indent=True, bold=True))
    body += [L.Bullet(line) for line in W.amount(f)]

    body.append(L.Heading("III. Thông tin liên hệ của nhân sự phụ trách bảo vệ dữ liệu "
                          "cá nhân"))
    body += [L.Bullet(line) for line in W.contact_lines(f)]

    body.append(L.Heading("IV. Mô tả các hậu quả, thiệt hại có thể xảy ra"))
    body += [L.Bullet(c) for c in f.consequences]

    body.append(L.Heading("V. Mô tả các biện pháp đã thực hiện, dự kiến thực hiện để giải "
                          "quyết, giảm thiểu tác hại"))
    body.append(L.Para("1. Đã thực hiện:", indent=True, bold=True))
    body += [L.Bullet(m) for m in W.measures_taken(f, z)] or [L.Bullet("Chưa có.")]
    body.append(L.Para("2. Dự kiến thực hiện:", indent=True, bold=True))
    body += [L.Bullet(m) for m in f.measures_planned]
    if f.notified:
        body.append(L.Para("3. Đã thông báo cho:", indent=True, bold=True))
        body += [L.Bullet(n) for n in W.notified(f, z)]

    if delay_reason:
        body += [L.Heading("VI. Lý do thông báo sau 72 giờ"), L.Para(delay_reason)]

    body.append(L.Para(f"{hospital.name} cam kết thông tin trên là đúng sự thật và sẽ tiếp tục "
                       "phối hợp, cung cấp thông tin bổ sung theo yêu cầu./."))
    number_text = W.number_line(number, SYMBOL, hospital.code)
    of = (f"Thông báo số {number}/{SYMBOL}-{hospital.code} {L.vn_date(issued_at, z)} của "
          f"{hospital.name}" if number is not None else f"Thông báo của {hospital.name}")
    return L.AdminDocument(
        issuing_body=hospital.issuing_body,
        issuer=hospital.name,
        number=number_text,
        place_date=L.place_date(hospital.place, issued_at, z),
        doc_type="Thông báo",
        subject="Vi phạm quy định về bảo vệ dữ liệu cá nhân",
        recipient=(f"Bộ Công an ({hospital.breach_authority})",),
        body=tuple(body),
        copies_to=("Như trên", f"{hospital.recipient} (để báo cáo)", *hospital.copies_to[1:]),
        archive=hospital.archive,
        signer_authority=hospital.signer.authority,
        signer_title=hospital.signer.title,
        signer_name=hospital.signer.name,
        annexes=(W.patients_annex(f, z, of=of),) if include_annex else (),
        draft=number is None,
        meta_title=f"Thông báo vi phạm quy định về bảo vệ dữ liệu cá nhân – {number_text} "
                   f"({FORM})",
        meta_author=hospital.name,
        keywords=("phiwatch", "Mẫu số 08", f"incident:{f.incident_id}",
                  f"hospital:{f.hospital_id}"),
    )
