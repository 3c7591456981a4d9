"""Phrases both documents share: how a time, an account, a size or the annex is written.

The report to the Department and the breach notification state the same facts; writing
each fact once here keeps their wording identical, and keeps ``report`` and ``breach``
to the arrangement each recipient expects.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerting.reports import layout as L
from alerting.reports.model import Account, ReportFacts, Workstation

SEVERITY_NAMES = {"informational": "thông tin", "low": "thấp", "medium": "trung bình",
                  "high": "cao", "critical": "nghiêm trọng"}
LAW_SENSITIVE = ("Dữ liệu về tình trạng sức khỏe trong hồ sơ bệnh án là dữ liệu cá nhân "
                 "nhạy cảm theo Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15.")


def number_line(number: int | None, symbol: str, code: str) -> str:
    """"Số: 12/BC-BVTD"; a draft leaves the number blank to be filled at issue."""
    return f"Số: {number}/{symbol}-{code}" if number is not None else \
        f"Số:        /{symbol}-{code}"


def thousands(n: int) -> str:
    """Vietnamese grouping: 45.000.000."""
    return f"{n:,}".replace(",", ".")


def size(n: int) -> str:
    """"45,0 MB (45.000.000 byte)": megabytes of 10^6, as the rules count them."""
    mb = f"{n / 1_000_000:.1f}".replace(".", ",")
    return f"{mb} MB ({thousands(n)} byte)"


def account(a: Account) -> str:
    extra = ", ".join(x for x in (", ".join(a.roles), a.department) if x)
    who = f"{a.id} – {a.name}" if a.name else a.id
    return f"{who} ({extra})" if extra else who


def station(w: Workstation) -> str:
    if w.host and w.ip:
        return f"{w.host} (địa chỉ IP {w.ip})"
    return w.host or f"địa chỉ IP {w.ip}"


def occurred(f: ReportFacts, zone: ZoneInfo) -> str:
    if f.occurred_from is None or f.occurred_to is None:
        return "Chưa xác định được thời điểm xảy ra; đang tiếp tục xác minh."
    return (f"Theo nhật ký hệ thống, hành vi diễn ra "
            f"{L.vn_span(f.occurred_from, f.occurred_to, zone)} (giờ Việt Nam).")


def amount(f: ReportFacts) -> list[str]:
    lines = [f"Số người bệnh bị ảnh hưởng: {thousands(f.patients_count)} người bệnh.",
             f"Số lượt hồ sơ bị truy cập, trích xuất: {thousands(f.records_count)} lượt."]
    if f.bytes_out:
        lines.append(f"Dung lượng dữ liệu gửi ra ngoài bệnh viện: {size(f.bytes_out)}.")
    if f.counts_basis == "alerts":
        lines.append("Số liệu trên lấy từ các cảnh báo, là mức tối thiểu; bệnh viện đang "
                     "đối chiếu nhật ký để xác định đầy đủ.")
    return lines


def contact_lines(f: ReportFacts) -> list[str]:
    c = f.contact
    who = f"{c.name}, {c.title}" if c.title else c.name
    return [f"Họ và tên, chức vụ: {who}.", f"Điện thoại: {c.phone}.",
            f"Thư điện tử: {c.email}."]


def measures_taken(f: ReportFacts, zone: ZoneInfo) -> list[str]:
    out = []
    for m in f.measures_taken:
        when = f"{L.vn_time(m.at, zone)}: " if m.at else ""
        by = f" ({m.by})" if m.by else ""
        out.append(f"{when}{m.text}{by}")
    return out


def notified(f: ReportFacts, zone: ZoneInfo) -> list[str]:
    return [f"{n.recipient}: {L.vn_time(n.at, zone)}" + (f" ({n.channel})" if n.channel
                                                         else "") for n in f.notified]


def patients_annex(f: ReportFacts, zone: ZoneInfo, *, of: str) -> L.Annex:
    """The affected patients by pseudonym only, with how often and when they were read."""
    def day(t: datetime | None) -> str:
        return L.vn_time(t, zone) if t is not None else ""
    rows = tuple((str(i), p.pseudonym, thousands(p.accesses), day(p.first_access),
                  day(p.last_access)) for i, p in enumerate(f.affected_patients, start=1))
    blocks: tuple[L.Block, ...]
    if rows:
        blocks = (L.Table(("STT", "Bí danh người bệnh", "Số lượt truy cập",
                           "Truy cập lần đầu", "Truy cập lần cuối"), rows,
                          (14.0, 45.0, 24.0, 41.0, 41.0)),)
    else:
        blocks = (L.Para("Chưa có danh sách: số liệu hiện có lấy từ các cảnh báo; danh sách "
                         "sẽ được gửi bổ sung sau khi đối chiếu nhật ký."),)
    return L.Annex(
        title="Phụ lục",
        subtitle="Danh sách người bệnh bị ảnh hưởng",
        note=(f"(Kèm theo {of}. Mã người bệnh đã được thay bằng bí danh (HMAC có khóa của "
              "bệnh viện); bệnh viện giữ bảng đối chiếu.)"),
        blocks=blocks)
