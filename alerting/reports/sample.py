"""A realistic sample case for tests, docs and the demo (fictional hospital and people).

A midwife of ward Sản B opens the records of 110 postpartum mothers of another ward
(Hậu sản A) each afternoon for three afternoons, then uploads 45 MB to a file-sharing
service from the same workstation: the 2024 leak as it most likely happened. The
hospital, the staff and the patient numbers are invented.

``python -m alerting.reports.sample OUT_DIR`` writes the sample report (DOCX, PDF) and
the first page as PNG (needs ``pdftoppm``: ``apt-get install poppler-utils``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerting.incident import Incident, transition
from alerting.reports.facts import EvidenceRecord, Notification, facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.profile import Contact, HospitalProfile, Signer
from alerting.reports.pseudonym import HmacPseudonymizer
from rules.alert import Alert, EventRef

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SAMPLE_KEY = b"sample-pseudonym-key-not-for-production"


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VN)


def sample_hospital() -> HospitalProfile:
    return HospitalProfile(
        id="bv-mau", name="Bệnh viện Phụ sản Mẫu", code="BVPSM",
        address="123 Đường Mẫu, Phường Chợ Quán, Thành phố Hồ Chí Minh",
        copies_to=("Như trên", "Ban Giám đốc", "Phòng Công nghệ thông tin",
                   "Phòng Tổ chức cán bộ"),
        archive="VT, CNTT",
        signer=Signer(title="Giám đốc", name="Nguyễn Văn Minh"),
        data_protection=Contact(name="Trần Quốc Bảo", title="Trưởng phòng Công nghệ thông tin",
                                phone="028 3999 1234", email="dpo@bvpsmau.example.vn"),
    )


@dataclass(frozen=True)
class SampleCase:
    incident: Incident
    alerts: list[Alert]
    evidence: list[EvidenceRecord]
    notified: list[Notification]


def _ref(n: int, t: datetime) -> EventRef:
    return EventRef(f"his-2026-12.jsonl:{n}", f"ev{n:06d}", t)


def sample_case() -> SampleCase:
    user = {"user.id": "nv04512", "user.name": "Lê Thị Hồng", "user.roles": ["midwife"],
            "user.department": "san-b", "host.name": "WS-SANB-07", "source.ip": "10.20.4.17",
            "his.module": "emr", "organization.id": "bv-mau"}
    evidence: list[EvidenceRecord] = []
    alerts: list[Alert] = []
    n = 0
    for day in (2, 3, 4):
        start = local(2026, 12, day, 13, 30)
        times = [start + timedelta(seconds=95 * i) for i in range(110)]
        for i, t in enumerate(times):
            n += 1
            evidence.append(EvidenceRecord(
                timestamp=t, patient_id=f"BN2026{(day * 1000 + i):06d}", user_id="nv04512",
                user_name="Lê Thị Hồng", host="WS-SANB-07", source_ip="10.20.4.17",
                module="emr", action="view"))
        alerts.append(Alert(
            id=f"a-harvest-{day}", rule_id="phiwatch-his-slow-harvest",
            rule_title="Slow-and-low patient harvesting", severity="high",
            group={"user.id": "nv04512"}, window_start=local(2026, 12, day, 0),
            window_end=times[-1], event_count=110, value_count=110,
            explanation=("nv04512 (Lê Thị Hồng, midwife in san-b) opened 110 distinct "
                         "patients' records today, all of ward hau-san-a; own 30-day median "
                         "is 14 (+6 MAD: 26); midwives in san-b p99 is 31"),
            first_event=_ref(n - 109, times[0]), last_event=_ref(n, times[-1]),
            organization_id="bv-mau", context=dict(user), metrics={"value": 110.0},
            revision=1, final=True))
    up_start = local(2026, 12, 4, 16, 48)
    for i in range(9):
        evidence.append(EvidenceRecord(timestamp=up_start + timedelta(seconds=28 * i),
                                       host="WS-SANB-07", source_ip="10.20.4.17",
                                       bytes_out=5_000_000))
    alerts.append(Alert(
        id="a-upload", rule_id="phiwatch-net-filesharing-upload",
        rule_title="Upload to a file-sharing, paste or messaging service", severity="medium",
        group={"source.ip": "10.20.4.17"}, window_start=up_start,
        window_end=up_start + timedelta(minutes=4, seconds=12), event_count=9,
        explanation=("10.20.4.17 uploaded 45000000 bytes to mega.nz (g.api.mega.co.nz) in "
                     "4m12s over 9 flows; threshold 20000000 bytes per 1h"),
        first_event=_ref(900001, up_start),
        last_event=_ref(900009, up_start + timedelta(seconds=224)),
        organization_id="bv-mau",
        context={"source.ip": "10.20.4.17", "host.name": "WS-SANB-07",
                 "user.id": "nv04512", "destination.domain": "g.api.mega.co.nz",
                 "destination.port": 443},
        metrics={"value_sum": 45_000_000.0}, revision=1, final=True))
    detected = local(2026, 12, 4, 17, 3)
    inc = Incident.open(alerts[0], "nv04512", detected)
    for a in alerts[1:]:
        inc = inc.with_alert(a) or inc
    inc = transition(inc, "investigating", "it.tran",
                     "Khóa tạm thời tài khoản nv04512; thu giữ máy trạm WS-SANB-07 để bảo toàn "
                     "chứng cứ", local(2026, 12, 4, 17, 25))
    inc = transition(inc, "confirmed_leak", "it.tran",
                     "Đối chiếu lịch trực: nv04512 không được phân công tại khoa Hậu sản A; "
                     "330 hồ sơ sản phụ được mở trong ba buổi chiều, sau đó 45 MB được tải lên "
                     "mega.nz từ cùng máy trạm", local(2026, 12, 5, 9, 40))
    notified = [Notification("Công an Thành phố Hồ Chí Minh (Phòng An ninh mạng và phòng, "
                             "chống tội phạm sử dụng công nghệ cao)",
                             local(2026, 12, 5, 10, 30), "điện thoại")]
    return SampleCase(inc, alerts, evidence, notified)


def sample_facts(now: datetime | None = None) -> ReportFacts:
    case = sample_case()
    hospital = sample_hospital()
    return facts_from_incident(
        case.incident, case.alerts, hospital, now=now or local(2026, 12, 7, 9, 0),
        pseudonymize=HmacPseudonymizer(SAMPLE_KEY, hospital.id), evidence=case.evidence,
        notified=case.notified)


def main(argv: list[str]) -> int:
    from alerting.reports.docx_writer import render_docx
    from alerting.reports.pdf_writer import render_pdf
    from alerting.reports.report import department_report

    out = Path(argv[1] if len(argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    issued = local(2026, 12, 7, 10, 0)
    doc = department_report(sample_facts(), sample_hospital(), number=27, issued_at=issued)
    (out / "report-sample.docx").write_bytes(render_docx(doc, created=issued))
    pdf = out / "report-sample.pdf"
    pdf.write_bytes(render_pdf(doc))
    if shutil.which("pdftoppm") is None:
        print("pdftoppm missing: apt-get install poppler-utils", file=sys.stderr)
        return 1
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(out / "report-page1")], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
