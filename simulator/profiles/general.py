"""The general hospital: a second, different hospital to keep detection honest.

A district-level general hospital on the edge of Ho Chi Minh City (about 650 accounts in
the ``large`` preset, 215 in ``small``), written the way its own HIS and personnel lists
would write it:

- roles are Vietnamese job titles: ``bác sĩ``, ``y sĩ`` (assistant physician),
  ``điều dưỡng``, ``hộ sinh``, ``kỹ thuật viên`` (laboratory *and* imaging: the title
  does not say which), ``dược sĩ``, ``thu ngân``, ``nhân viên tiếp đón``,
  ``quản trị hệ thống``, ``nhà cung cấp``;
- departments are the abbreviations on its signs and in its HIS: ``KKB`` (clinic),
  ``KKT`` (antenatal clinic, with its own reception desk), ``KCC`` (emergency),
  ``KHSTC`` (intensive care), ``KNTH``/``KNTM`` (internal medicine, cardiology),
  ``KNHI`` (paediatrics), ``KNGTH``/``KCTCH`` (surgery, orthopaedics), ``KPTGM``
  (theatres and anaesthesia), ``KPS`` (obstetrics: labour and delivery), ``KHS``
  (postpartum), ``KSS`` (neonatal), ``KPK`` (gynaecology), the services ``KXN``,
  ``KCDHA``, ``KTDCN`` (functional tests), ``KD``, ``PTCKT`` (cashiers), ``TTD``
  (reception), and ``TCNTT`` (IT), ``NCC`` (vendors);
- shifts are its rota words: ``hành chính`` (office hours 07:00–16:30, a lunch break,
  every other Saturday morning in the clinics), ``ca 1`` 06–14, ``ca 2`` 14–22,
  ``ca 3`` 22–06 (every other night), ``trực 24h`` (24-hour duty every fourth day, office
  hours between) and ``xoay ca`` (three shifts, four crews: ca 1, ca 2, ca 3, a day off).

What makes it hard in other ways than words: the antenatal clinic's receptionists register
150–250 pregnant women a day each (their job); ward nurses and midwives are given a few
beds a shift and open 12–30 patients a day, the services hundreds; some staff work in two
departments (anaesthetists in theatre and intensive care, sonographers in the antenatal
clinic, midwives in delivery and postpartum, physicians in the clinic) and the HIS shows
the department they chose at login that day; almost half the births are caesareans, in
theatre.
"""

from __future__ import annotations

from typing import Any

from simulator.departments import Department, Kind
from simulator.netplan import Site
from simulator.profile import (
    VIEW_SPACING,
    Birth,
    Floater,
    Job,
    Profile,
    Rota,
    Shift,
    Visit,
    Window,
    Work,
)

_D = Department
_A, _B, _C, _D2, _E, _F = "Khu A", "Khu B", "Khu C", "Khu D", "Khu E", "Khu F"
DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        _D("KKB", "Khoa Khám bệnh", "KKB", 10, Kind.OUTPATIENT, _A, "TTD", True),
        _D("KKT", "Phòng khám Thai – Khoa Phụ sản", "KKT", 11, Kind.OUTPATIENT, _A, "KKT", True),
        _D("KCC", "Khoa Cấp cứu", "KCC", 12, Kind.EMERGENCY, _A, "TTD", True),
        _D("KHSTC", "Khoa Hồi sức tích cực – Chống độc", "HSTC", 20, Kind.WARD, _B, billed=True),
        _D("KNTH", "Khoa Nội tổng hợp", "KNTH", 21, Kind.WARD, _B, "TTD", True),
        _D("KNTM", "Khoa Nội Tim mạch", "KNTM", 22, Kind.WARD, _B, "TTD", True),
        _D("KNHI", "Khoa Nhi", "KNHI", 23, Kind.WARD, _C, "TTD", True),
        _D("KNGTH", "Khoa Ngoại tổng hợp", "KNGTH", 30, Kind.WARD, _C, "TTD", True),
        _D("KCTCH", "Khoa Chấn thương chỉnh hình", "CTCH", 31, Kind.WARD, _C, "TTD", True),
        _D("KPTGM", "Khoa Phẫu thuật – Gây mê hồi sức", "PTGM", 32, Kind.WARD, _C),
        _D("KPS", "Khoa Phụ sản – Phòng sanh", "KPS", 40, Kind.WARD, _D2, "TTD"),
        _D("KHS", "Đơn nguyên Hậu sản", "KHS", 41, Kind.WARD, _D2, billed=True),
        _D("KSS", "Đơn nguyên Sơ sinh", "KSS", 42, Kind.WARD, _D2, billed=True),
        _D("KPK", "Khoa Phụ khoa", "KPK", 43, Kind.WARD, _D2, "TTD", True),
        _D("KXN", "Khoa Xét nghiệm", "KXN", 50, Kind.LAB, _E),
        _D("KCDHA", "Khoa Chẩn đoán hình ảnh", "KCDHA", 51, Kind.RADIOLOGY, _E),
        _D("KTDCN", "Khoa Thăm dò chức năng", "TDCN", 52, Kind.RADIOLOGY, _E),
        _D("KD", "Khoa Dược", "KD", 53, Kind.PHARMACY, _E),
        _D("PTCKT", "Phòng Tài chính – Kế toán", "TCKT", 60, Kind.BILLING, _A),
        _D("TTD", "Tổ Tiếp đón – Phòng Kế hoạch tổng hợp", "TTD", 61, Kind.RECEPTION, _A),
        _D("TCNTT", "Tổ Công nghệ thông tin", "CNTT", 70, Kind.IT, _F),
        _D("NCC", "Nhà cung cấp, đối tác", "NCC", 90, Kind.PARTNER, _F),
    )
}

ROLES: dict[str, Job] = {
    "bác sĩ": Job.DOCTOR, "y sĩ": Job.DOCTOR, "điều dưỡng": Job.NURSE, "hộ sinh": Job.MIDWIFE,
    "kỹ thuật viên": Job.TECHNICIAN, "dược sĩ": Job.PHARMACIST, "thu ngân": Job.CASHIER,
    "nhân viên tiếp đón": Job.RECEPTIONIST, "quản trị hệ thống": Job.IT,
    "nhà cung cấp": Job.VENDOR,
}
_FEMALE_SHARE: dict[str, float] = {
    "bác sĩ": .55, "y sĩ": .5, "điều dưỡng": .85, "hộ sinh": 1.0, "kỹ thuật viên": .6,
    "dược sĩ": .75, "thu ngân": .8, "nhân viên tiếp đón": .85, "quản trị hệ thống": .15,
    "nhà cung cấp": .4,
}

_OFFICE, _SAT, _C1, _C2, _C3, _DUTY = ("hành chính", "thứ bảy", "ca 1", "ca 2", "ca 3",
                                        "trực 24h")
_WINDOWS: dict[str, Window] = {
    _OFFICE: Window(7 * 60, 16 * 60 + 30, (690, 750, .7)),  # lunch 11:30–13:00
    _SAT: Window(7 * 60, 11 * 60 + 30),
    _C1: Window(6 * 60, 14 * 60, (600, 660, .3)),
    _C2: Window(14 * 60, 22 * 60, (1050, 1110, .4)),
    _C3: Window(22 * 60, 30 * 60, (1560, 1620, .3)),
    _DUTY: Window(7 * 60, 31 * 60, (690, 780, .6)),
}
_SHIFTS: dict[str, Shift] = {
    _OFFICE: Shift(Rota.OFFICE, (_OFFICE, _SAT)),
    _C1: Shift(Rota.FIVE_IN_SEVEN, (_C1,)),
    _C2: Shift(Rota.FIVE_IN_SEVEN, (_C2,)),
    _C3: Shift(Rota.ALTERNATE, (_C3,)),
    _DUTY: Shift(Rota.ON_CALL, (_DUTY, _OFFICE)),
    "xoay ca": Shift(Rota.ROTATING, (_C1, _C2, _C3, None)),
}
_SHIFT_MIX: dict[tuple[Kind, Job], dict[str, float]] = {
    (Kind.EMERGENCY, Job.DOCTOR): {_DUTY: .6, "xoay ca": .4},
    (Kind.EMERGENCY, Job.NURSE): {"xoay ca": .8, _OFFICE: .2},
    (Kind.WARD, Job.DOCTOR): {_OFFICE: .65, _DUTY: .35},
    (Kind.WARD, Job.NURSE): {"xoay ca": .7, _OFFICE: .2, _C3: .1},
    (Kind.WARD, Job.MIDWIFE): {"xoay ca": .65, _OFFICE: .2, _DUTY: .15},
    (Kind.LAB, Job.TECHNICIAN): {_OFFICE: .5, "xoay ca": .5},
    (Kind.LAB, Job.DOCTOR): {_OFFICE: .7, _DUTY: .3},
    (Kind.RADIOLOGY, Job.TECHNICIAN): {_OFFICE: .6, _DUTY: .4},
    (Kind.RADIOLOGY, Job.DOCTOR): {_OFFICE: .7, _DUTY: .3},
    (Kind.PHARMACY, Job.PHARMACIST): {_OFFICE: .6, _C2: .2, _C3: .2},
    (Kind.BILLING, Job.CASHIER): {_OFFICE: .6, _C1: .2, _C2: .2},
    (Kind.RECEPTION, Job.RECEPTIONIST): {_C1: .35, _C2: .3, _C3: .1, _OFFICE: .25},
}

_DOC = ("emr",) * 5 + ("lab", "lab", "pacs", "pacs", "pharmacy")
_NURSE = ("emr",) * 6 + ("lab", "pharmacy", "pharmacy")
_W = Work
_WORK: dict[tuple[Kind, Job], Work] = {
    (Kind.EMERGENCY, Job.DOCTOR): _W("own", 95, (1, 2), .25, .25, .45, .08, _DOC,
                                     (VIEW_SPACING, 25)),
    (Kind.EMERGENCY, Job.NURSE): _W("own", 100, (1, 2), .4, .15, .5, .05, _NURSE,
                                    (VIEW_SPACING, 25)),
    (Kind.WARD, Job.DOCTOR): _W("own", 190, (1, 4), .5, .2, .5, .06, _DOC,
                                caseload=(10, 20), beyond=.15),
    (Kind.WARD, Job.NURSE): _W("own", 170, (1, 3), .45, .1, .55, .04, _NURSE,
                               caseload=(8, 14), beyond=.25),
    (Kind.WARD, Job.MIDWIFE): _W("own", 180, (1, 3), .45, .1, .55, .04, _NURSE,
                                 caseload=(6, 12), beyond=.3),
    (Kind.OUTPATIENT, Job.DOCTOR): _W("own", 200, (1, 3), .3, .3, .6, .3, _DOC),
    (Kind.OUTPATIENT, Job.NURSE): _W("own", 170, (1, 2), .3, .4, .4, .2, _NURSE),
    (Kind.OUTPATIENT, Job.MIDWIFE): _W("own", 200, (1, 2), .3, .3, .5, .2, _NURSE),
    (Kind.OUTPATIENT, Job.RECEPTIONIST): _W("arrivals", 40, (1, 1), .05, .8, .8, .5,
                                            ("reception",)),
    (Kind.LAB, Job.TECHNICIAN): _W("all", 55, (1, 2), .05, .1, .85, .02, ("lab",),
                                   (VIEW_SPACING, 8)),
    (Kind.LAB, Job.DOCTOR): _W("all", 160, (1, 2), .1, .1, .6, .02, ("lab",)),
    (Kind.RADIOLOGY, Job.TECHNICIAN): _W("imaging", 130, (1, 2), .1, .1, .8, .02, ("pacs",)),
    (Kind.RADIOLOGY, Job.DOCTOR): _W("imaging", 210, (1, 3), .1, .1, .9, .02,
                                     ("pacs", "pacs", "emr")),
    (Kind.RADIOLOGY, Job.NURSE): _W("imaging", 240, (1, 2), .1, .1, .5, .02, ("pacs", "emr")),
    (Kind.PHARMACY, Job.PHARMACIST): _W("all", 100, (1, 2), .1, .15, .8, .15, ("pharmacy",)),
    (Kind.BILLING, Job.CASHIER): _W("discharges", 150, (1, 2), .05, .4, .6, .5, ("billing",)),
    (Kind.RECEPTION, Job.RECEPTIONIST): _W("arrivals", 95, (1, 2), .05, .7, .7, .4,
                                           ("reception",)),
    (Kind.IT, Job.IT): _W("none", 420, (1, 2), 0, .5, .4, 0, ("admin",), support_view=.05),
    (Kind.PARTNER, Job.VENDOR): _W("none", 600, (1, 1), 0, .6, .2, 0, ("admin",),
                                   support_view=.03),
}

_CLINIC_HOURS = (6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
_CLINIC_WEIGHTS = (4, 12, 11, 9, 7, 4, 1, 4, 4, 3, 1)
_ANC_WEIGHTS = (6, 14, 13, 10, 7, 3, 1, 4, 3, 2, 1)
_ED_WEIGHTS = (2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 6, 5, 4, 4, 4, 5, 5, 6, 6, 7, 6, 5, 4, 3)
_WEEK = (1, 1, 1, 1, 1, .5, 0)
_FLOWS: tuple[Visit | Birth, ...] = (
    Visit("clinic", (("KKB", 1),), "outpatients_per_day", .58, (1, 85), .5, (30 * 60, 180 * 60),
          weekdays=_WEEK, hours=_CLINIC_HOURS, weights=_CLINIC_WEIGHTS),
    Visit("antenatal", (("KKT", 1),), "antenatal_per_day", 1.0, (18, 42), .7,
          (30 * 60, 150 * 60), weekdays=(1, 1, 1, 1, 1, .6, 0), hours=_CLINIC_HOURS,
          weights=_ANC_WEIGHTS),
    Visit("emergency", (("KCC", 1),), "emergency_per_day", .5, (0, 90), .3, (3600, 360 * 60),
          hours=tuple(range(24)), weights=_ED_WEIGHTS, onward=.22, children="KNHI",
          wards=(("KNTH", .35), ("KNTM", .2), ("KNGTH", .22), ("KCTCH", .15),
                 ("KHSTC", .08))),
    Visit("medicine", (("KNTH", .6), ("KNTM", .4)), "medical_admissions_per_day", .5,
          (30, 90), .5, (3, 9), unit=86400, weekdays=(1, 1, 1, 1, 1, 1, .4), window=(480, 960)),
    Visit("surgery", (("KNGTH", .65), ("KCTCH", .35)), "surgical_admissions_per_day", .45,
          (15, 85), .35, (2, 7), unit=86400, weekdays=(1, 1, 1, 1, 1, .6, .3),
          window=(420, 900), theatre=.75, theatre_in="KPTGM"),
    Visit("gynaecology", (("KPK", 1),), "surgical_admissions_per_day", 1.0, (20, 70), .4,
          (2, 5), unit=86400, scale=.3, weekdays=(1, 1, 1, 1, 1, .5, 0), window=(420, 840),
          theatre=.5, theatre_in="KPTGM"),
    Visit("paediatrics", (("KNHI", 1),), "paediatric_admissions_per_day", .47, (0, 15), .4,
          (2, 7), unit=86400, window=(480, 1200)),
    Birth("birth", "births_per_day", ("KPS",), "KHS", "KSS", neonatal_share=.15,
          caesarean=.45, theatre="KPTGM"),
)

SITE = Site(
    workstations="172.20", workstations_cidr="172.20.0.0/16", vpn="172.31.250",
    vpn_cidr="172.31.250.0/24", servers_cidr="172.16.5.0/24", resolver="172.16.5.5",
    his_app=("172.16.5.21", "172.16.5.22"), his_db="172.16.5.31", zone="bvdkap.local",
    upstream_dns=("210.245.24.20", "210.245.24.22"),
    backup=("backup.fptcloud.com", "103.160.79.10"), backup_net="103.160.79.0/24",
    host_format="{tag}-PC{n:02d}",
)

PROFILE = Profile(
    name="general",
    description="Bệnh viện Đa khoa An Phú: a district general hospital",
    departments=DEPARTMENTS, roles=ROLES, female_share=_FEMALE_SHARE, windows=_WINDOWS,
    shifts=_SHIFTS, shift_mix=_SHIFT_MIX, office=_OFFICE, day_window=_OFFICE,
    office_kinds=frozenset({Kind.OUTPATIENT}),
    work=_WORK,
    default_work=_W("own", 220, (1, 2), .3, .2, .4, .05, _NURSE),
    sponsor_work=_W("none", 600, (1, 1), 0, .8, .1, 0, ("pharmacy",)),
    flows=_FLOWS,
    imaging=("KCC", "KKB", "KKT", "KNTH", "KNTM", "KNGTH", "KCTCH", "KNHI", "KHSTC", "KPS",
             "KPK", "KSS"),
    front_desk="TTD",
    maternity=("KKT", "KPS", "KHS", "KSS"), postpartum=("KHS",), neonatal=("KSS",),
    antenatal=("KKT",),
    hop_desks=("TTD", "PTCKT"), elsewhere=("KSS", "KNTH"),
    site=SITE,
    his_vendor="Công ty CP Công nghệ Y tế Đông Dương",
    sponsor="Công ty TNHH Dược phẩm Thiên Phúc",
    staff_ids=("ap", 5), vendor_ids=("ncc", 3),
    floaters=(
        Floater("KPTGM", Job.DOCTOR, "KHSTC", .4),  # anaesthetists in intensive care
        Floater("KCDHA", Job.DOCTOR, "KKT", .3),  # sonographers in the antenatal clinic
        Floater("KPS", Job.MIDWIFE, "KHS", .3),  # delivery-room midwives on postpartum
        Floater("KNTH", Job.DOCTOR, "KKB", .3, every=4),  # physicians' clinic sessions
    ),
)

_LARGE_STAFF: dict[str, dict[str, int]] = {
    "KKB": {"bác sĩ": 24, "y sĩ": 4, "điều dưỡng": 26},
    "KKT": {"bác sĩ": 4, "hộ sinh": 6, "nhân viên tiếp đón": 3},
    "KCC": {"bác sĩ": 14, "y sĩ": 2, "điều dưỡng": 32},
    "KHSTC": {"bác sĩ": 8, "điều dưỡng": 32},
    "KNTH": {"bác sĩ": 12, "điều dưỡng": 30},
    "KNTM": {"bác sĩ": 8, "điều dưỡng": 18},
    "KNHI": {"bác sĩ": 10, "điều dưỡng": 28},
    "KNGTH": {"bác sĩ": 12, "điều dưỡng": 26},
    "KCTCH": {"bác sĩ": 8, "điều dưỡng": 16},
    "KPTGM": {"bác sĩ": 12, "điều dưỡng": 24},
    "KPS": {"bác sĩ": 10, "hộ sinh": 26, "điều dưỡng": 4},
    "KHS": {"bác sĩ": 4, "hộ sinh": 12, "điều dưỡng": 16},
    "KSS": {"bác sĩ": 5, "điều dưỡng": 16},
    "KPK": {"bác sĩ": 5, "hộ sinh": 2, "điều dưỡng": 10},
    "KXN": {"bác sĩ": 4, "kỹ thuật viên": 34},
    "KCDHA": {"bác sĩ": 10, "kỹ thuật viên": 16},
    "KTDCN": {"bác sĩ": 4, "kỹ thuật viên": 6, "điều dưỡng": 4},
    "KD": {"dược sĩ": 30},
    "PTCKT": {"thu ngân": 26},
    "TTD": {"nhân viên tiếp đón": 26},
    "TCNTT": {"quản trị hệ thống": 6},
    "NCC": {"nhà cung cấp": 4},
}
_SMALL_STAFF: dict[str, dict[str, int]] = {
    "KKB": {"bác sĩ": 8, "y sĩ": 1, "điều dưỡng": 8},
    "KKT": {"bác sĩ": 2, "hộ sinh": 3, "nhân viên tiếp đón": 2},
    "KCC": {"bác sĩ": 5, "y sĩ": 1, "điều dưỡng": 10},
    "KHSTC": {"bác sĩ": 3, "điều dưỡng": 10},
    "KNTH": {"bác sĩ": 4, "điều dưỡng": 9},
    "KNTM": {"bác sĩ": 3, "điều dưỡng": 6},
    "KNHI": {"bác sĩ": 3, "điều dưỡng": 8},
    "KNGTH": {"bác sĩ": 4, "điều dưỡng": 8},
    "KCTCH": {"bác sĩ": 3, "điều dưỡng": 6},
    "KPTGM": {"bác sĩ": 4, "điều dưỡng": 8},
    "KPS": {"bác sĩ": 4, "hộ sinh": 9, "điều dưỡng": 2},
    "KHS": {"bác sĩ": 2, "hộ sinh": 4, "điều dưỡng": 5},
    "KSS": {"bác sĩ": 2, "điều dưỡng": 6},
    "KPK": {"bác sĩ": 2, "hộ sinh": 1, "điều dưỡng": 4},
    "KXN": {"bác sĩ": 1, "kỹ thuật viên": 10},
    "KCDHA": {"bác sĩ": 3, "kỹ thuật viên": 6},
    "KTDCN": {"bác sĩ": 1, "kỹ thuật viên": 2, "điều dưỡng": 1},
    "KD": {"dược sĩ": 9},
    "PTCKT": {"thu ngân": 8},
    "TTD": {"nhân viên tiếp đón": 8},
    "TCNTT": {"quản trị hệ thống": 3},
    "NCC": {"nhà cung cấp": 3},
}

_NAME = "Bệnh viện Đa khoa An Phú"
#: ``HospitalSpec`` fields of the two presets: every incident kind in both.
PRESETS: dict[str, dict[str, Any]] = {
    "small": {
        "organization_id": "bvdk-anphu", "name": _NAME, "staff": _SMALL_STAFF,
        "outpatients_per_day": 240, "antenatal_per_day": 460, "emergency_per_day": 45,
        "births_per_day": 8, "medical_admissions_per_day": 8,
        "surgical_admissions_per_day": 6, "paediatric_admissions_per_day": 4,
        "department_changes": 2, "departed_staff": 4, "activity": .6, "incident_kinds": None,
        "history_days": 75,  # enough recent mothers for a day-long slow harvest
        "network_incident_kinds": None,
    },
    "large": {
        "organization_id": "bvdk-anphu", "name": _NAME, "staff": _LARGE_STAFF,
        "outpatients_per_day": 700, "antenatal_per_day": 800, "emergency_per_day": 120,
        "births_per_day": 16, "medical_admissions_per_day": 24,
        "surgical_admissions_per_day": 18, "paediatric_admissions_per_day": 12,
        "department_changes": 6, "departed_staff": 10, "activity": .6, "incident_kinds": None,
        "history_days": 45,
        "network_incident_kinds": None,
    },
}
