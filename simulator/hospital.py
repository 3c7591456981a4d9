"""The hospital's people and machines: staff accounts, rotas, transfers, workstations.

Who works when is the profile's (:meth:`simulator.profile.Profile.on_duty`): each roster
shift word has a rota and the windows it works. A few staff move to another department
in the middle of the period; in some profiles some work in two departments (an
anaesthetist in theatre and intensive care), and on the days they work in the second
one the HIS shows that department for them — the department they chose at login — and
they open its patients at its workstations.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulator.departments import MAX_WORKSTATIONS, Kind, Workstation
from simulator.names import NameGenerator
from simulator.profile import Job, Profile
from simulator.profiles import profile
from simulator.spec import HospitalSpec


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
    job: Job
    department: str  # as on the roster, i.e. at the end of the period
    shift: str
    profile: Profile
    vendor: str = ""
    status: str = "active"
    end_date: date | None = None  # last working day (left staff) or contract end (vendors)
    phase: int = 0  # rota phase, so that colleagues are not all off on the same day
    home: int = 1  # usual workstation number in the department
    previous_department: str | None = None
    moved_on: date | None = None
    #: a second department worked in, one duty day in ``every``
    secondary: str | None = None
    every: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        """HIS vendor support works over the VPN."""
        return self.vendor == self.profile.his_vendor

    def department_on(self, day: date) -> str:
        if self.moved_on is not None and self.previous_department and day < self.moved_on:
            return self.previous_department
        if self.secondary and (day.toordinal() + self.phase) % self.every == 1:
            return self.secondary
        return self.department

    def account_on(self, day: date) -> Account:
        dept = self.department_on(day)
        acct = self.accounts.get(dept)
        if acct is None:
            acct = self.accounts[dept] = Account(self.user_id, self.full_name, self.role, dept)
        return acct

    def on_duty(self, day: date) -> str | None:
        """The shift window this person starts on ``day``, or None when off."""
        if self.status != "active" and self.end_date is not None and day > self.end_date:
            return None
        return self.profile.on_duty(self.shift, day, self.phase, self.department_on(day))


class Hospital:
    """Staff and workstations of one simulated hospital."""

    def __init__(self, spec: HospitalSpec, rng: random.Random, first: date, days: int) -> None:
        self.spec = spec
        self.profile = profile(spec.profile)
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
        self._floaters(rng)

    def _build_staff(self, rng: random.Random, names: NameGenerator) -> None:
        prof = self.profile
        (prefix, width), (vprefix, vwidth) = prof.staff_ids, prof.vendor_ids
        numbers = iter(rng.sample(range(10 ** (width - 2), 10 ** width - 1),
                                  self.spec.staff_count))
        vendor_numbers = iter(range(1, 1000))
        for dept_code, roles in self.spec.staff.items():
            kind = prof.kind(dept_code)
            for role, count in roles.items():
                job = prof.job(role)
                mix = prof.shift_mix.get((kind, job), {prof.office: 1.0})
                shifts = _exact_mix(mix, count, rng)
                for k in range(count):
                    female = rng.random() < prof.female_share[role]
                    vendor = ""
                    if job == Job.VENDOR:
                        uid = f"{vprefix}{next(vendor_numbers):0{vwidth}d}"
                        vendor = prof.sponsor if k % prof.sponsor_every == \
                            prof.sponsor_every - 1 else prof.his_vendor
                    else:
                        uid = f"{prefix}{next(numbers):0{width}d}"
                    self.staff.append(
                        Staff(
                            index=len(self.staff), user_id=uid,
                            full_name=names.full_name(female), female=female, role=role,
                            job=job, department=dept_code, shift=shifts[k], profile=prof,
                            vendor=vendor,
                            phase=rng.randrange(28), home=1 + k // 3,
                            end_date=(self.first + timedelta(days=rng.randrange(60, 400))
                                      if vendor else None),
                        )
                    )

    def _build_workstations(self) -> None:
        per_dept: dict[str, int] = {}
        for s in self.staff:
            per_dept[s.department] = per_dept.get(s.department, 0) + 1
        for dept in self.profile.departments:
            n = min(MAX_WORKSTATIONS, max(2, math.ceil(per_dept.get(dept, 0) / 3)))
            self.workstations[dept] = [self.profile.workstation(dept, i)
                                       for i in range(1, n + 1)]
        remote = [s for s in self.staff if s.remote]
        for i, s in enumerate(remote):
            s.home = i + 1  # one VPN address per support engineer
        self.vpn = [self.profile.site.vpn_endpoint(i)
                    for i in range(1, min(MAX_WORKSTATIONS, len(remote)) + 1)]

    def _departures(self, rng: random.Random) -> None:
        """Accounts of people who left: some before the period, some during it."""
        leavers = (Job.DOCTOR, Job.NURSE, Job.MIDWIFE, Job.RECEPTIONIST, Job.CASHIER)
        pool = [s for s in self.staff if s.job in leavers
                or (s.job == Job.TECHNICIAN and self.profile.kind(s.department) == Kind.LAB)]
        for i, s in enumerate(rng.sample(pool, min(len(pool), self.spec.departed_staff))):
            s.status = "inactive"
            if i % 2 == 1 and self.days > 1:
                s.end_date = self.first + timedelta(days=rng.randrange(self.days - 1))
            else:
                s.end_date = self.first - timedelta(days=rng.randrange(3, 90))

    def _transfers(self, rng: random.Random) -> None:
        """A few clinical staff move wards in the middle of the period."""
        clinical = self.profile.codes(Kind.EMERGENCY, Kind.WARD)
        pool = [s for s in self.staff if s.status == "active" and s.department in clinical
                and s.job in (Job.NURSE, Job.MIDWIFE, Job.DOCTOR)]
        moved_on = self.first + timedelta(days=max(1, self.days // 2) if self.days > 1 else 0)
        for s in rng.sample(pool, min(len(pool), self.spec.department_changes)):
            targets = [d for d in clinical if d != s.department
                       and self.spec.staff.get(d, {}).get(s.role, 0) > 0]
            if not targets:
                continue
            s.previous_department = s.department
            s.department = rng.choice(targets)
            s.moved_on = moved_on

    def _floaters(self, rng: random.Random) -> None:
        """Staff who also work in a second department (the profile's ``floaters``)."""
        for f in self.profile.floaters:
            pool = [s for s in self.staff if s.department == f.department and s.job == f.job
                    and s.status == "active" and s.moved_on is None and s.secondary is None]
            for s in rng.sample(pool, round(len(pool) * f.share)):
                s.secondary, s.every = f.secondary, f.every

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
