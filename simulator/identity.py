"""National identity numbers: the link between a staff row and the same person's patient row.

Staff are also patients of their own hospital, and a user opening their own record is one
of the patterns to detect. Names cannot link the two rows (about 38 % of Vietnamese are
Nguyễn, and the simulated names repeat), so both files carry ``national_id``: the
12-digit citizen identity number (căn cước công dân) — three digits of the province of
birth registration, one digit for sex and century (0/1 for men/women born in the 1900s,
2/3 in the 2000s), two digits of the year of birth, six random digits. Numbers are unique
across staff and patients except where one person is both; newborns have none yet.

A patient flagged ``staff_member`` carries a staff member's name; here that staff member
and that patient also get the same number, which is what a rule or an enrichment joins on.
"""

from __future__ import annotations

import random
from datetime import date

from simulator.census import Census
from simulator.hospital import Hospital

#: Province codes: mostly Ho Chi Minh City (079), then the provinces around it.
_PROVINCES = ("079",) * 6 + ("074", "075", "080", "083", "086", "072", "077", "068")


class Identities:
    """``national_id`` for every staff member (by user id) and every patient (by id)."""

    def __init__(self, hospital: Hospital, census: Census, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self.staff: dict[str, str] = {}
        self.patients: dict[str, str] = {}
        for s in hospital.staff:
            born = date(rng.randint(1965, 2002), 1, 1)
            self.staff[s.user_id] = self._number(s.female, born)
        for p in sorted(census.patients.values(), key=lambda p: p.id):
            if not p.mother:
                self.patients[p.id] = self._number(p.female, p.birth)
        #: patient id → user id of the staff member who is that patient
        self.staff_patients: dict[str, str] = {}
        by_name: dict[str, str] = {}
        for s in hospital.staff:
            if s.role != "vendor":
                by_name.setdefault(s.full_name, s.user_id)
        for pid, reason in census.flagged:
            uid = by_name.get(census.patients[pid].name)
            if reason == "staff_member" and uid is not None and uid not in \
                    self.staff_patients.values():
                self.staff_patients[pid] = uid
                self.patients[pid] = self.staff[uid]

    def _number(self, female: bool, born: date) -> str:
        century = 0 if born.year < 2000 else 2
        while True:
            n = (f"{self._rng.choice(_PROVINCES)}{century + female}{born.year % 100:02d}"
                 f"{self._rng.randrange(1_000_000):06d}")
            if n not in self._used:
                self._used.add(n)
                return n
