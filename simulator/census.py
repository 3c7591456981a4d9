"""Patients and encounters: who is in which department when.

The profile's flows (:class:`~simulator.profile.Visit`, :class:`~simulator.profile.Birth`)
say who arrives where, per day: outpatient and antenatal visits, emergency arrivals
around the clock (some admitted onward), admissions, births — the mother labours, moves to
the postpartum ward after delivery and goes home after a few days; each newborn is
registered at birth ("Con bà <mother>"), rooms in with the mother or goes to the neonatal
ward. Encounters start ``history_days`` before the period so that staff have recent
patients to look back at and a harvester has hundreds of recent mothers to collect.

Patient ids are ``BN<year><six digits>``, issued in registration order; returning
patients carry ids from earlier years.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from simulator.clock import Clock
from simulator.names import NameGenerator
from simulator.profile import Birth, Profile, Visit, pick
from simulator.spec import HospitalSpec

_FLAG_REASONS = ("public_figure", "staff_member", "protection_order", "confidential_adoption",
                 "police_case")
_FLAG_WEIGHTS = (3, 3, 2, 1, 1)


@dataclass(slots=True)
class Patient:
    id: str
    name: str
    female: bool
    birth: date
    registered: date
    mother: str = ""


@dataclass(slots=True)
class Encounter:
    patient: str
    department: str
    start: int
    end: int


class Census:
    """Every patient and encounter, with hour-bucketed pools for the traffic model."""

    def __init__(self, spec: HospitalSpec, profile: Profile, clock: Clock, rng: random.Random,
                 staff_women: list[str]) -> None:
        self.spec = spec
        self.profile = profile
        self.clock = clock
        self._rng = rng
        self._names = NameGenerator(rng)
        self.patients: dict[str, Patient] = {}
        self.encounters: list[Encounter] = []
        #: (time the mother was admitted, mother's id), for every birth
        self.mothers: list[tuple[int, str]] = []
        #: ids issued to new registrations, in order
        self.new_ids: list[str] = []
        self._next: dict[int, int] = {}
        self._returning: list[str] = []
        self._delivered: set[str] = set()
        self._daily_new = max(1, int(spec.outpatients_per_day * 0.55 + spec.emergency_per_day * 0.7
                                     + spec.births_per_day * 1.6 + spec.medical_admissions_per_day
                                     + spec.antenatal_per_day * 0.25
                                     + spec.surgical_admissions_per_day
                                     + spec.paediatric_admissions_per_day))
        first = clock.first - timedelta(days=spec.history_days)
        for i in range(spec.history_days + clock.days):
            self._day(first + timedelta(days=i))
        self.flagged = self._flag(staff_women)
        #: flagged records open only to their care team and the services (break-the-glass)
        self.flagged_ids = frozenset(pid for pid, _ in self.flagged)
        self._index()

    # -- patients ---------------------------------------------------------------------------

    def _new_id(self, day: date) -> str:
        n = self._next.get(day.year)
        if n is None:
            n = (day - date(day.year, 1, 1)).days * self._daily_new + 1
        self._next[day.year] = n + 1
        pid = f"BN{day.year}{n:06d}"
        self.new_ids.append(pid)
        return pid

    def _register(self, day: date, female: bool, age: tuple[int, int], name: str = "",
                  mother: str = "") -> Patient:
        rng = self._rng
        born = day - timedelta(days=rng.randint(age[0] * 365, age[1] * 365 + 364))
        p = Patient(self._new_id(day), name or self._names.full_name(female), female, born, day,
                    mother)
        self.patients[p.id] = p
        if not mother:
            self._returning.append(p.id)
        return p

    def _patient(self, day: date, female: bool, age: tuple[int, int], returning: float) -> Patient:
        """A new registration, or with probability ``returning`` someone seen before."""
        rng = self._rng
        if rng.random() < returning:
            if self._returning and rng.random() < 0.5:
                p = self.patients[rng.choice(self._returning)]
                if p.female == female and age[0] <= (day - p.birth).days // 365 <= age[1]:
                    return p
            year = rng.randint(max(2012, day.year - 8), day.year - 1)
            pid = f"BN{year}{rng.randint(1, self._daily_new * 365):06d}"
            if pid not in self.patients:
                born = day - timedelta(days=rng.randint(age[0] * 365, age[1] * 365 + 364))
                reg = date(year, 1, 1) + timedelta(days=rng.randrange(365))
                p = Patient(pid, self._names.full_name(female), female, born, reg)
                self.patients[pid] = p
                self._returning.append(pid)
                return p
        return self._register(day, female, age)

    # -- flows ------------------------------------------------------------------------------

    def _day(self, day: date) -> None:
        rng, spec, clock = self._rng, self.spec, self.clock
        weekday = day.weekday()
        flows = self.profile.flows
        arrivals: list[tuple[int, str, int]] = []

        def count(base: float) -> int:
            return max(0, round(base * rng.uniform(0.88, 1.12)))

        for i, flow in enumerate(flows):
            base = getattr(spec, flow.per_day)
            if isinstance(flow, Birth):
                n = count(base)
            else:
                n = count(base * flow.scale * flow.weekdays[weekday])
            for _ in range(n):
                if isinstance(flow, Visit) and flow.hours:
                    h = rng.choices(flow.hours, flow.weights)[0]
                    minutes = h * 60 + rng.random() * 60
                elif isinstance(flow, Visit):
                    lo, hi = flow.window
                    minutes = lo + rng.random() * (hi - lo)
                else:
                    minutes = rng.random() * 1440
                arrivals.append((clock.at(day, minutes), flow.label, i))
        arrivals.sort()
        for t, _, i in arrivals:
            flow = flows[i]
            if isinstance(flow, Birth):
                self._birth(day, t, flow)
            else:
                self._visit(day, t, flow)

    def _visit(self, day: date, t: int, flow: Visit) -> None:
        rng = self._rng
        p = self._patient(day, rng.random() < flow.female, flow.age, flow.returning)
        dept = pick(rng, flow.to)
        end = t + rng.randint(*flow.stay) * flow.unit
        if flow.unit >= 86400:
            end = self._discharge(end)
        self._add(p.id, dept, t, end)
        if flow.theatre and rng.random() < flow.theatre:
            self._operation(p.id, flow.theatre_in, t + rng.randint(1, 20) * 3600)
        if flow.onward and rng.random() < flow.onward:
            if flow.children and (day - p.birth).days // 365 < 16:
                ward = flow.children
            else:
                ward = pick(rng, flow.wards)
            self._add(p.id, ward, end, self._discharge(end + rng.randint(2, 8) * 86400))

    def _operation(self, pid: str, theatre: str, t: int) -> None:
        """An operation at about ``t``: an encounter in the theatre of 45 minutes to
        three hours."""
        start = t + self._rng.randint(0, 3600)
        self._add(pid, theatre, start, start + self._rng.randint(45 * 60, 180 * 60))

    def _birth(self, day: date, t: int, flow: Birth) -> None:
        rng = self._rng
        mother = self._patient(day, True, (18, 42), 0.6)
        if mother.id in self._delivered:  # nobody gives birth twice within the period
            mother = self._register(day, True, (18, 42))
        self._delivered.add(mother.id)
        delivery = t + rng.randint(4 * 3600, 30 * 3600)
        labour = flow.labour[0] if len(flow.labour) == 1 else rng.choice(flow.labour)
        self._add(mother.id, labour, t, delivery)
        home = self._discharge(delivery + rng.randint(2, 5) * 86400)
        if flow.caesarean and rng.random() < flow.caesarean:
            self._operation(mother.id, flow.theatre, delivery - 3600)
            home = max(home, self._discharge(delivery + rng.randint(3, 5) * 86400))
        self._add(mother.id, flow.postpartum, delivery, home)
        self.mothers.append((t, mother.id))
        born_on = self.clock.day_of(delivery)
        for _ in range(2 if rng.random() < 0.015 else 1):
            baby = self._register(born_on, rng.random() < 0.49, (0, 0),
                                  name=f"Con bà {mother.name}", mother=mother.id)
            baby.birth = born_on
            if rng.random() < flow.neonatal_share:
                self._add(baby.id, flow.neonatal, delivery,
                          self._discharge(delivery + rng.randint(2, 10) * 86400))
            else:
                self._add(baby.id, flow.postpartum, delivery, home)

    def _discharge(self, t: int) -> int:
        """Wards send patients home in the morning round: 08:30–11:30 on the day of ``t``."""
        day = self.clock.day_of(t)
        return self.clock.at(day, 510 + self._rng.random() * 180)

    def _add(self, pid: str, dept: str, start: int, end: int) -> None:
        self.encounters.append(Encounter(pid, dept, start, max(end, start + 1800)))

    def _flag(self, staff_women: list[str]) -> list[tuple[str, str]]:
        """Patients whose records need extra care (VIPs, staff, protection orders)."""
        rng = self._rng
        recent = sorted({e.patient for e in self.encounters if e.end >= self.clock.t0
                         and not self.patients[e.patient].mother})
        n = round(len(recent) * self.spec.flagged_patient_share)
        flagged = []
        for pid in rng.sample(recent, min(n, len(recent))):
            reason = rng.choices(_FLAG_REASONS, _FLAG_WEIGHTS)[0]
            p = self.patients[pid]
            if reason == "staff_member" and staff_women and p.female:
                p.name = rng.choice(staff_women)
            flagged.append((pid, reason))
        return sorted(flagged)

    # -- pools ------------------------------------------------------------------------------

    def _index(self) -> None:
        c, prof = self.clock, self.profile
        clinical = prof.clinical
        self.active: dict[str, list[list[str]]] = {
            d: [[] for _ in range(c.hours)] for d in clinical
        }
        #: reception desk → hour → patients it registers arriving then
        self.arrivals: dict[str, list[list[str]]] = {
            d: [[] for _ in range(c.hours)] for d in sorted(
                {dep.registered_by for dep in prof.departments.values() if dep.registered_by})
        }
        self.discharges: list[list[str]] = [[] for _ in range(c.hours)]
        registered = {d: dep.registered_by for d, dep in prof.departments.items()}
        billed = {d for d, dep in prof.departments.items() if dep.billed}
        for e in self.encounters:
            if e.end < c.t0 or e.start >= c.end:
                continue
            buckets = self.active[e.department]
            for h in range(c.hour_index(e.start), c.hour_index(e.end) + 1):
                buckets[h].append(e.patient)
            desk = registered[e.department]
            if e.start >= c.t0 and desk:
                self.arrivals[desk][c.hour_index(e.start)].append(e.patient)
            if e.end < c.end and e.department in billed:
                self.discharges[c.hour_index(e.end)].append(e.patient)
        self._merged: dict[tuple[str, int], list[str]] = {}

    def pool(self, name: str, hour: int) -> list[str]:
        """Patients a user can be working on in ``hour``: a department's, those a desk
        registers (``arrivals:<desk>``), or a merged pool (``imaging``, ``all``)."""
        hour = min(hour, self.clock.hours - 1)  # a night shift running past the period
        if name in self.active:
            return self.active[name][hour]
        if name.startswith("arrivals:"):
            desk = self.arrivals.get(name[9:])
            return desk[hour] if desk is not None else []
        if name == "discharges":
            return self.discharges[hour] or self.arrivals[self.profile.front_desk][hour]
        key = (name, hour)
        merged = self._merged.get(key)
        if merged is None:
            depts = self.profile.imaging if name == "imaging" else self.profile.clinical
            merged = self._merged[key] = [p for d in depts for p in self.active[d][hour]]
        return merged

    def recent_mothers(self, t: int) -> list[str]:
        """Mothers admitted for delivery in the ``history_days`` before ``t``, newest first."""
        since = t - self.spec.history_days * 86400
        return [pid for start, pid in sorted(self.mothers, reverse=True) if since <= start <= t]
