"""The maternity hospital: the simulator's first and default profile.

A maternity-focused general hospital in Ho Chi Minh City, modelled on the one whose new
mothers' data leaked in 2024: emergency, an outpatient clinic, two labour wards (Sản A,
Sản B), postpartum (Hậu sản), neonatal (Sơ sinh), internal medicine, and the services
(laboratory, imaging, pharmacy, billing, reception); English role words and the shift
words ``day`` 07–16, ``evening`` 14–22, ``night`` 19–07, ``oncall24`` 07–07 (a doctor on
24-hour call every fourth day, off the day after, on day shifts on other weekdays).
Office departments (outpatient clinic, billing, IT, partners) work Monday to Friday and
every other Saturday; wards, emergency and the services a five-in-seven rota; night staff
every other night.

Patient flows, per day: outpatient visits (weekdays, half on Saturday), emergency arrivals
around the clock (12 % then admitted to internal medicine), medical admissions, and
births: the mother labours in Sản A or Sản B, moves to Hậu sản after delivery and goes
home after two to five days; each newborn rooms in with her or, one in five, goes to
Sơ sinh.

Buildings: A (entrance: emergency, clinic, reception, cashiers), B (maternity), C
(internal medicine), D (laboratory, imaging, pharmacy), E (offices).
"""

from __future__ import annotations

from simulator.departments import Department, Kind
from simulator.netplan import MATERNITY_SITE
from simulator.profile import (
    VIEW_SPACING,
    Birth,
    Job,
    Profile,
    Rota,
    Shift,
    Visit,
    Window,
    Work,
)

_D = Department
DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        _D("cap-cuu", "Khoa Cấp cứu", "CC", 11, Kind.EMERGENCY, "A", "tiep-nhan", True),
        _D("kham-benh", "Khoa Khám bệnh", "KB", 12, Kind.OUTPATIENT, "A", "tiep-nhan", True),
        _D("san-a", "Khoa Sản A", "SAN-A", 21, Kind.WARD, "B", "tiep-nhan"),
        _D("san-b", "Khoa Sản B", "SAN-B", 22, Kind.WARD, "B", "tiep-nhan"),
        _D("hau-san", "Khoa Hậu sản", "HAU-SAN", 23, Kind.WARD, "B", billed=True),
        _D("so-sinh", "Khoa Sơ sinh", "SO-SINH", 24, Kind.WARD, "B", billed=True),
        _D("noi", "Khoa Nội tổng hợp", "NOI", 31, Kind.WARD, "C", "tiep-nhan", True),
        _D("xet-nghiem", "Khoa Xét nghiệm", "XN", 41, Kind.LAB, "D"),
        _D("chan-doan-hinh-anh", "Khoa Chẩn đoán hình ảnh", "CDHA", 42, Kind.RADIOLOGY, "D"),
        _D("duoc", "Khoa Dược", "DUOC", 43, Kind.PHARMACY, "D"),
        _D("tai-chinh", "Phòng Tài chính kế toán (viện phí)", "VP", 51, Kind.BILLING, "A"),
        _D("tiep-nhan", "Bộ phận Tiếp nhận", "TN", 52, Kind.RECEPTION, "A"),
        _D("cntt", "Phòng Công nghệ thông tin", "CNTT", 61, Kind.IT, "E"),
        _D("doi-tac", "Đối tác, nhà thầu, nhà tài trợ", "DT", 90, Kind.PARTNER, "E"),
    )
}

ROLES: dict[str, Job] = {
    "doctor": Job.DOCTOR, "nurse": Job.NURSE, "midwife": Job.MIDWIFE,
    "lab_tech": Job.TECHNICIAN, "radiographer": Job.TECHNICIAN, "pharmacist": Job.PHARMACIST,
    "billing_clerk": Job.CASHIER, "receptionist": Job.RECEPTIONIST, "it_admin": Job.IT,
    "vendor": Job.VENDOR,
}

_FEMALE_SHARE: dict[str, float] = {
    "doctor": 0.6, "nurse": 0.88, "midwife": 1.0, "lab_tech": 0.7, "radiographer": 0.45,
    "pharmacist": 0.7, "billing_clerk": 0.75, "receptionist": 0.8, "it_admin": 0.2,
    "vendor": 0.4,
}

_WINDOWS: dict[str, Window] = {
    "day": Window(7 * 60, 16 * 60, (690, 780, .6)),
    "evening": Window(14 * 60, 22 * 60, (1080, 1170, .5)),
    "night": Window(19 * 60, 31 * 60, (1470, 1560, .3)),
    "oncall24": Window(7 * 60, 31 * 60, (690, 780, .6)),
}
_SHIFTS: dict[str, Shift] = {
    "day": Shift(Rota.DAY, ("day",)),
    "evening": Shift(Rota.FIVE_IN_SEVEN, ("evening",)),
    "night": Shift(Rota.ALTERNATE, ("night",)),
    "oncall24": Shift(Rota.ON_CALL, ("oncall24", "day")),
}

_SHIFT_MIX: dict[tuple[Kind, Job], dict[str, float]] = {
    (Kind.EMERGENCY, Job.DOCTOR): {"oncall24": 0.4, "day": 0.3, "night": 0.3},
    (Kind.EMERGENCY, Job.NURSE): {"day": 0.4, "evening": 0.25, "night": 0.35},
    (Kind.WARD, Job.DOCTOR): {"day": 0.7, "oncall24": 0.3},
    (Kind.WARD, Job.NURSE): {"day": 0.5, "evening": 0.2, "night": 0.3},
    (Kind.WARD, Job.MIDWIFE): {"day": 0.5, "evening": 0.2, "night": 0.3},
    (Kind.LAB, Job.TECHNICIAN): {"day": 0.55, "evening": 0.2, "night": 0.25},
    (Kind.RADIOLOGY, Job.TECHNICIAN): {"day": 0.6, "evening": 0.2, "night": 0.2},
    (Kind.RADIOLOGY, Job.DOCTOR): {"day": 0.75, "oncall24": 0.25},
    (Kind.PHARMACY, Job.PHARMACIST): {"day": 0.6, "evening": 0.25, "night": 0.15},
    (Kind.BILLING, Job.CASHIER): {"day": 0.8, "evening": 0.2},
    (Kind.RECEPTION, Job.RECEPTIONIST): {"day": 0.6, "evening": 0.2, "night": 0.2},
}

_CLIN_DOC = ("emr",) * 6 + ("lab", "lab", "pacs", "pharmacy")
_CLIN_NURSE = ("emr",) * 6 + ("lab", "pharmacy", "pharmacy")
_W = Work
_WORK: dict[tuple[Kind, Job], Work] = {
    (Kind.EMERGENCY, Job.DOCTOR): _W("own", 85, (1, 1), .2, .25, .45, .08, _CLIN_DOC,
                                     (VIEW_SPACING, 25)),
    (Kind.EMERGENCY, Job.NURSE): _W("own", 90, (1, 2), .4, .15, .5, .05, _CLIN_NURSE,
                                    (VIEW_SPACING, 25)),
    (Kind.WARD, Job.DOCTOR): _W("own", 170, (1, 4), .5, .2, .5, .06, _CLIN_DOC),
    (Kind.WARD, Job.NURSE): _W("own", 160, (1, 3), .55, .1, .55, .04, _CLIN_NURSE),
    (Kind.WARD, Job.MIDWIFE): _W("own", 160, (1, 3), .55, .1, .55, .04, _CLIN_NURSE),
    (Kind.OUTPATIENT, Job.DOCTOR): _W("own", 170, (1, 3), .3, .3, .6, .3, _CLIN_DOC),
    (Kind.OUTPATIENT, Job.NURSE): _W("own", 160, (1, 2), .3, .4, .4, .2, _CLIN_NURSE),
    (Kind.LAB, Job.TECHNICIAN): _W("all", 50, (1, 2), .05, .1, .85, .02, ("lab",),
                                   (VIEW_SPACING, 8)),
    (Kind.LAB, Job.DOCTOR): _W("all", 150, (1, 2), .1, .1, .6, .02, ("lab",)),
    (Kind.RADIOLOGY, Job.TECHNICIAN): _W("imaging", 120, (1, 2), .1, .1, .8, .02, ("pacs",)),
    (Kind.RADIOLOGY, Job.DOCTOR): _W("imaging", 200, (1, 3), .1, .1, .9, .02,
                                     ("pacs", "pacs", "emr")),
    (Kind.PHARMACY, Job.PHARMACIST): _W("all", 95, (1, 2), .1, .15, .8, .15, ("pharmacy",)),
    (Kind.BILLING, Job.CASHIER): _W("discharges", 140, (1, 2), .05, .4, .6, .5, ("billing",)),
    (Kind.RECEPTION, Job.RECEPTIONIST): _W("arrivals", 100, (1, 2), .05, .7, .7, .4,
                                           ("reception",)),
    (Kind.IT, Job.IT): _W("none", 420, (1, 2), 0, .5, .4, 0, ("admin",), support_view=.06),
    (Kind.PARTNER, Job.VENDOR): _W("none", 600, (1, 1), 0, .6, .2, 0, ("admin",),
                                   support_view=.03),
}

_OP_HOURS = (6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
_OP_WEIGHTS = (3, 10, 10, 9, 8, 6, 2, 5, 5, 4, 2)
_ED_WEIGHTS = (2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 6, 5, 4, 4, 4, 5, 5, 6, 6, 6, 5, 4, 3, 3)
_FLOWS: tuple[Visit | Birth, ...] = (
    Visit("op", (("kham-benh", 1),), "outpatients_per_day", .75, (16, 80), .45,
          (40 * 60, 240 * 60), weekdays=(1, 1, 1, 1, 1, .5, 0), hours=_OP_HOURS,
          weights=_OP_WEIGHTS),
    Visit("ed", (("cap-cuu", 1),), "emergency_per_day", .6, (1, 90), .3, (3600, 360 * 60),
          hours=tuple(range(24)), weights=_ED_WEIGHTS, onward=.12, wards=(("noi", 1),)),
    Birth("birth", "births_per_day", ("san-a", "san-b"), "hau-san", "so-sinh"),
    Visit("med", (("noi", 1),), "medical_admissions_per_day", .55, (30, 90), .5, (2, 8),
          unit=86400, weekdays=(1, 1, 1, 1, 1, 1, .4), window=(480, 960)),
)

HIS_VENDOR = "Công ty CP Giải pháp Phần mềm Y tế Hòa Bình"
SPONSOR = "Công ty TNHH Dinh dưỡng Mẹ và Bé Sao Mai"

PROFILE = Profile(
    name="maternity",
    description="Bệnh viện Đa khoa Phụ sản Demo: a maternity-focused hospital",
    departments=DEPARTMENTS, roles=ROLES, female_share=_FEMALE_SHARE, windows=_WINDOWS,
    shifts=_SHIFTS, shift_mix=_SHIFT_MIX, office="day", day_window="day",
    office_kinds=frozenset({Kind.OUTPATIENT, Kind.BILLING, Kind.IT, Kind.PARTNER}),
    work=_WORK,
    default_work=_W("own", 200, (1, 2), .3, .2, .4, .05, _CLIN_NURSE),
    sponsor_work=_W("none", 600, (1, 1), 0, .8, .1, 0, ("pharmacy",)),
    flows=_FLOWS,
    imaging=("cap-cuu", "kham-benh", "san-a", "san-b", "noi", "so-sinh"),
    front_desk="tiep-nhan",
    maternity=("san-a", "san-b", "hau-san", "so-sinh"), postpartum=("hau-san",),
    neonatal=("so-sinh",), antenatal=(),
    hop_desks=("tiep-nhan", "tai-chinh"), elsewhere=("so-sinh", "noi"),
    site=MATERNITY_SITE, his_vendor=HIS_VENDOR, sponsor=SPONSOR,
)


def small_staff() -> dict[str, dict[str, int]]:
    """The demo hospital's accounts: department → role → number (246)."""
    return {
        "cap-cuu": {"doctor": 8, "nurse": 14},
        "kham-benh": {"doctor": 12, "nurse": 10},
        "san-a": {"doctor": 8, "midwife": 10, "nurse": 8},
        "san-b": {"doctor": 8, "midwife": 10, "nurse": 8},
        "hau-san": {"doctor": 6, "nurse": 14, "midwife": 4},
        "so-sinh": {"doctor": 6, "nurse": 14},
        "noi": {"doctor": 6, "nurse": 10},
        "xet-nghiem": {"doctor": 2, "lab_tech": 16},
        "chan-doan-hinh-anh": {"doctor": 4, "radiographer": 10},
        "duoc": {"pharmacist": 14},
        "tai-chinh": {"billing_clerk": 14},
        "tiep-nhan": {"receptionist": 20},
        "cntt": {"it_admin": 7},
        "doi-tac": {"vendor": 3},
    }


#: Thirty accounts of quieter staff (clinic and medicine nurses, reception, cashiers, IT)
#: the large preset adds to six times the small one, to pass 1,500.
LARGE_EXTRA: dict[tuple[str, str], int] = {
    ("kham-benh", "nurse"): 8, ("noi", "nurse"): 6, ("tiep-nhan", "receptionist"): 6,
    ("tai-chinh", "billing_clerk"): 4, ("cntt", "it_admin"): 6,
}
