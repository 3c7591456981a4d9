"""The hospital's people and machines: staff accounts, rotas, transfers, workstations.

Shift windows (local time): ``day`` 07–16, ``evening`` 14–22, ``night`` 19–07 the next
morning, ``oncall24`` 07–07 (a doctor on 24-hour call every fourth day, off the day
after, on day shifts on other weekdays). Office departments (outpatient clinic, billing,
IT, partners) work Monday to Friday and every other Saturday; wards, emergency and the
services work a five-in-seven rota; night staff work every other night.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulator.departments import (
    DEPARTMENTS,
    MAX_WORKSTATIONS,
    Kind,
    Workstation,
    vpn_endpoint,
    workstation,
)
from simulator.names import NameGenerator
from simulator.spec import HospitalSpec

#: Shift → (start, end) in minutes after the local midnight of the day the shift starts.
SHIFT_WINDOWS: dict[str, tuple[int, int]] = {
    "day": (7 * 60, 16 * 60),
    "evening": (14 * 60, 22 * 60),
    "night": (19 * 60, 31 * 60),
    "oncall24": (7 * 60, 31 * 60),
}

_OFFICE_KINDS = frozenset({Kind.OUTPATIENT, Kind.BILLING, Kind.IT, Kind.PARTNER})

#: (department kind, role) → shift mix; anything not listed works days.
_SHIFT_MIX: dict[tuple[Kind, str], dict[str, float]] = {
    (Kind.EMERGENCY, "doctor"): {"oncall24": 0.4, "day": 0.3, "night": 0.3},
    (Kind.EMERGENCY, "nurse"): {"day": 0.4, "evening": 0.25, "night": 0.35},
    (Kind.WARD, "doctor"): {"day": 0.7, "oncall24": 0.3},
    (Kind.WARD, "nurse"): {"day": 0.5, "evening": 0.2, "night": 0.3},
    (Kind.WARD, "midwife"): {"day": 0.5, "evening": 0.2, "night": 0.3},
    (Kind.LAB, "lab_tech"): {"day": 0.55, "evening": 0.2, "night": 0.25},
    (Kind.RADIOLOGY, "radiographer"): {"day": 0.6, "evening": 0.2, "night": 0.2},
    (Kind.RADIOLOGY, "doctor"): {"day": 0.75, "oncall24": 0.25},
    (Kind.PHARMACY, "pharmacist"): {"day": 0.6, "evening": 0.25, "night": 0.15},
    (Kind.BILLING, "billing_clerk"): {"day": 0.8, "evening": 0.2},
    (Kind.RECEPTION, "receptionist"): {"day": 0.6, "evening": 0.2, "night": 0.2},
}

_FEMALE_SHARE: dict[str, float] = {
    "doctor": 0.6, "nurse": 0.88, "midwife": 1.0, "lab_tech": 0.7, "radiographer": 0.45,
    "pharmacist": 0.7, "billing_clerk": 0.75, "receptionist": 0.8, "it_admin": 0.2,
    "vendor": 0.4,
}

HIS_VENDOR = "Công ty CP Giải pháp Phần mềm Y tế Hòa Bình"
SPONSOR = "Công ty TNHH Dinh dưỡng Mẹ và Bé Sao Mai"


@dataclass(eq=False, slots=True)
class Account:
    """A staff member as the HIS shows them while in one department."""

    user_id: str
    name: str
    role: str
    department: str


@dataclass(eq=False)
class Staff:
    """One roster line plus what the simulation needs to make them work."""

    index: int
    user_id: str
    full_name: str
    female: bool
    role: str
    department: str  # as on the roster, i.e. at the end of the period
    shift: str
    vendor: str = ""
    status: str = "active"
    end_date: date | None = None  # last working day (left staff) or contract end (vendors)
    phase: int = 0  # rota phase, so that colleagues are not all off on the same day
    home: int = 1  # usual workstation number in the department
    previous_department: str | None = None
    moved_on: date | None = None
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        """HIS vendor support works over the VPN."""
        return self.vendor == HIS_VENDOR

    def department_on(self, day: date) -> str:
        if self.moved_on is not None and self.previous_department and day < self.moved_on:
            return self.previous_department
        return self.department

    def account_on(self, day: date) -> Account:
        dept = self.department_on(day)
        acct = self.accounts.get(dept)
        if acct is None:
            acct = self.accounts[dept] = Account(self.user_id, self.full_name, self.role, dept)
        return acct

    def on_duty(self, day: date) -> str | None:
        """The shift this person starts on ``day``, or None when off."""
        if self.status != "active" and self.end_date is not None and day > self.end_date:
            return None
        o = day.toordinal() + self.phase
        weekday = day.weekday()
        if self.shift == "night":
            return "night" if o % 2 == 0 else None
        if self.shift == "oncall24":
            if o % 4 == 0:
                return "oncall24"
            return "day" if o % 4 != 1 and weekday < 5 else None
        if self.shift == "day" and DEPARTMENTS[self.department_on(day)].kind in _OFFICE_KINDS:
            return "day" if weekday < 5 or (weekday == 5 and o % 2 == 0) else None
        return self.shift if o % 7 < 5 else None


class Hospital:
    """Staff and workstations of one simulated hospital."""

    def __init__(self, spec: HospitalSpec, rng: random.Random, first: date, days: int) -> None:
        self.spec = spec
        self.first = first
        self.days = days
        self.staff: list[Staff] = []
        self.workstations: dict[str, list[Workstation]] = {}
        self.vpn: list[Workstation] = []
        names = NameGenerator(rng)
        self._build_staff(rng, names)
        self._build_workstations()
        self._departures(rng)
        self._transfers(rng)

    def _build_staff(self, rng: random.Random, names: NameGenerator) -> None:
        numbers = iter(rng.sample(range(1000, 99999), self.spec.staff_count))
        vendor_numbers = iter(range(1, 1000))
        for dept_code, roles in self.spec.staff.items():
            kind = DEPARTMENTS[dept_code].kind
            for role, count in roles.items():
                shifts = _exact_mix(_SHIFT_MIX.get((kind, role), {"day": 1.0}), count, rng)
                for k in range(count):
                    female = rng.random() < _FEMALE_SHARE[role]
                    vendor = ""
                    if role == "vendor":
                        uid = f"dt{next(vendor_numbers):04d}"
                        vendor = SPONSOR if k % 3 == 2 else HIS_VENDOR
                    else:
                        uid = f"nv{next(numbers):05d}"
                    self.staff.append(
                        Staff(
                            index=len(self.staff), user_id=uid,
                            full_name=names.full_name(female), female=female, role=role,
                            department=dept_code, shift=shifts[k], vendor=vendor,
                            phase=rng.randrange(28), home=1 + k // 3,
                            end_date=(self.first + timedelta(days=rng.randrange(60, 400))
                                      if vendor else None),
                        )
                    )

    def _build_workstations(self) -> None:
        per_dept: dict[str, int] = {}
        for s in self.staff:
            per_dept[s.department] = per_dept.get(s.department, 0) + 1
        for dept in DEPARTMENTS:
            n = min(MAX_WORKSTATIONS, max(2, math.ceil(per_dept.get(dept, 0) / 3)))
            self.workstations[dept] = [workstation(dept, i) for i in range(1, n + 1)]
        remote = [s for s in self.staff if s.remote]
        for i, s in enumerate(remote):
            s.home = i + 1  # one VPN address per support engineer
        self.vpn = [vpn_endpoint(i) for i in range(1, min(MAX_WORKSTATIONS, len(remote)) + 1)]

    def _departures(self, rng: random.Random) -> None:
        """Accounts of people who left: some before the period, some during it."""
        pool = [s for s in self.staff if s.role in ("doctor", "nurse", "midwife", "lab_tech",
                                                     "receptionist", "billing_clerk")]
        for i, s in enumerate(rng.sample(pool, min(len(pool), self.spec.departed_staff))):
            s.status = "inactive"
            if i % 2 == 1 and self.days > 1:
                s.end_date = self.first + timedelta(days=rng.randrange(self.days - 1))
            else:
                s.end_date = self.first - timedelta(days=rng.randrange(3, 90))

    def _transfers(self, rng: random.Random) -> None:
        """A few clinical staff move wards in the middle of the period."""
        clinical = [d for d, dep in DEPARTMENTS.items() if dep.kind in (Kind.WARD, Kind.EMERGENCY)]
        pool = [s for s in self.staff if s.status == "active" and s.department in clinical
                and s.role in ("nurse", "midwife", "doctor")]
        moved_on = self.first + timedelta(days=max(1, self.days // 2) if self.days > 1 else 0)
        for s in rng.sample(pool, min(len(pool), self.spec.department_changes)):
            targets = [d for d in clinical if d != s.department
                       and self.spec.staff.get(d, {}).get(s.role, 0) > 0]
            if not targets:
                continue
            s.previous_department = s.department
            s.department = rng.choice(targets)
            s.moved_on = moved_on

    def workstation_for(self, staff: Staff, day: date, rng: random.Random) -> Workstation:
        """Where ``staff`` logs in on ``day``: usually their own desk, sometimes another."""
        if staff.remote and self.vpn:
            return self.vpn[(staff.home - 1) % len(self.vpn)]
        pool = self.workstations[staff.department_on(day)]
        if rng.random() < 0.75:
            return pool[(staff.home - 1) % len(pool)]
        return rng.choice(pool)


def _exact_mix(mix: dict[str, float], n: int, rng: random.Random) -> list[str]:
    """``n`` labels in the proportions of ``mix`` (largest remainder), shuffled."""
    quotas = {k: p * n for k, p in mix.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[k] += 1
    labels = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(labels)
    return labels
