"""Injected, labelled leaks: what the detection rules must find.

Four kinds, each round placing one of every kind on a day of the period (spread evenly)
at a time when it would happen:

- ``bulk_harvest``: a receptionist (or a postpartum nurse) on a day shift opens the
  registration record, i.e. the contact details, of 260–400 distinct recent mothers over
  one to two hours at a human pace — the 2024 Từ Dũ pattern. Their normal work pauses.
- ``bulk_export``: a billing clerk runs one export of 2,000–6,000 patient records.
- ``scripted_scraper``: the HIS vendor's support account, over its VPN address in the
  small hours, views sequential patient ids at three to five a second for 5–8 minutes.
- ``brute_force``: 20–40 failed logins on an off-duty obstetrician's account within five
  minutes from one VPN address, then a success and a dozen or two record views.

The ground truth names each incident's ``kind`` and its facts, never a detection rule: a
data generator must not know the rules it is used to judge (``phiwatch.groundtruth`` maps
kinds to the rules expected to catch them).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from simulator.census import Census
from simulator.clock import Clock
from simulator.departments import Kind, Workstation
from simulator.hospital import Hospital, Staff
from simulator.profile import WARD_CARE, Job
from simulator.traffic import Row, Traffic, search_size

#: The kinds the shipped fixed-threshold rules catch (the demo's four).
CLASSIC_KINDS: tuple[str, ...] = ("bulk_harvest", "scripted_scraper", "bulk_export",
                                  "brute_force")
KINDS = CLASSIC_KINDS


@dataclass
class Incident:
    id: str
    kind: str
    description: str
    staff: Staff
    workstation: Workstation
    patients: int
    rows: list[Row] = field(default_factory=list)
    #: kind-specific numbers for the ground truth (failed logins, hours, seconds …)
    counts: dict[str, int] = field(default_factory=dict)
    #: other kind-specific facts for the ground truth (target ward, days, …)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min(r[0] for r in self.rows)

    @property
    def end(self) -> int:
        return max(r[0] for r in self.rows)

    def to_json(self, clock: Clock) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "description": self.description,
            "user.id": self.staff.user_id, "user.name": self.staff.full_name,
            "user.role": self.staff.role,
            "user.department": self.staff.department_on(clock.day_of(self.start)),
            "source.ip": self.workstation.ip, "host.name": self.workstation.name,
            "start": clock.iso(self.start), "end": clock.iso(self.end),
            "patients": self.patients, "events": len(self.rows),
            "counts": {"events": len(self.rows), "patients": self.patients, **self.counts},
            **self.facts,
        }


IncidentT = TypeVar("IncidentT", bound=Incident)


class Planner:
    """Chooses actors, days and times, and builds each incident's events."""

    def __init__(self, hospital: Hospital, census: Census, clock: Clock, traffic: Traffic,
                 rng: random.Random) -> None:
        self.hospital, self.census, self.clock, self.traffic = hospital, census, clock, traffic
        self.profile = hospital.profile
        self.rng = rng
        self.used: set[str] = set()
        #: user id → windows in which that user's normal traffic is replaced by the incident
        self.suppress: dict[str, list[tuple[int, int]]] = {}

    def makers(self) -> dict[str, Callable[[date, int], Incident | None]]:
        """Kind → the method that builds one incident of it on a day, in a round."""
        return {"bulk_harvest": self._harvest, "bulk_export": self._export,
                "scripted_scraper": self._scraper, "brute_force": self._brute_force}

    def plan(self, rounds: int, kinds: tuple[str, ...] = KINDS) -> list[Incident]:
        return self.spread(self.makers(), rounds, kinds, numbered=0)

    def spread(self, makers: Mapping[str, Callable[[date, int], IncidentT | None]], rounds: int,
               kinds: tuple[str, ...], *, numbered: int) -> list[IncidentT]:
        """One incident of each of ``kinds`` per round, spread evenly over the period; ids
        follow the ``numbered`` incidents planned before."""
        total = rounds * len(kinds)
        out: list[IncidentT] = []
        for i in range(total):
            kind = kinds[i % len(kinds)]
            day = self.clock.first + timedelta(days=(i * self.clock.days) // max(1, total))
            inc = makers[kind](day, i // len(kinds))
            # nobody fits that day (office staff at a weekend): the next days, the earlier
            for other in self._other_days(day) if inc is None else ():
                if (inc := makers[kind](other, i // len(kinds))) is not None:
                    break
            if inc is not None:
                inc.id = f"inc-{numbered + len(out) + 1:03d}"
                self.used.add(inc.staff.user_id)
                out.append(inc)
        return out

    # -- helpers ----------------------------------------------------------------------------

    def _other_days(self, day: date) -> list[date]:
        """The period's days after ``day``, then those before it, nearest first."""
        days = self.clock.period_days()
        return [d for d in days if d > day] + [d for d in reversed(days) if d < day]

    def _candidates(self, day: date, jobs: tuple[Job, ...], depts: tuple[str, ...],
                    shifts: tuple[str | None, ...]) -> list[Staff]:
        """Active staff of ``jobs`` working in ``depts`` on ``day`` with a shift window in
        ``shifts`` (None: off duty), shuffled; never one who moves or floats between
        departments, nor one already in an incident."""
        found = [s for s in self.hospital.staff
                 if s.job in jobs and s.department_on(day) in depts and s.status == "active"
                 and s.moved_on is None and s.secondary is None
                 and s.user_id not in self.used and s.on_duty(day) in shifts]
        self.rng.shuffle(found)
        return found

    def _sessions(self, staff: Staff, day: date) -> list[tuple[int, int, Workstation]]:
        """(login, logout, workstation) of the normal shift ``staff`` starts on ``day``."""
        rows = sorted(self.traffic.shift(staff, day), key=lambda r: r[0])
        sessions: list[tuple[int, int, Workstation]] = []
        opened = None
        for t, _, action, _, _, _, ws in rows:
            if action == "login":
                opened = t
            elif action == "logout" and opened is not None:
                sessions.append((opened, t, ws))
                opened = None
        return sessions

    def _within_session(self, day: date, jobs: tuple[Job, ...], depts: tuple[str, ...],
                        length: int, lead: int) -> tuple[Staff, int, Workstation] | None:
        """Someone on a day shift, a start time and their workstation, so that ``length``
        seconds fit inside one of their sessions, ``lead`` seconds after login and ten
        minutes before logout. Their normal work pauses meanwhile."""
        return self._fit(self._candidates(day, jobs, depts, (self.profile.day_window,)), day,
                         length, lead)

    def _fit(self, candidates: list[Staff], day: date, length: int,
             lead: int) -> tuple[Staff, int, Workstation] | None:
        """The first of ``candidates`` with a session on ``day`` that holds ``length``
        seconds (see :meth:`_within_session`); their normal work pauses meanwhile."""
        for staff in candidates:
            fits = [(a + lead, b - 600 - length, ws) for a, b, ws in self._sessions(staff, day)
                    if b - 600 - length > a + lead]
            if fits:
                lo, hi, ws = self.rng.choice(fits)
                t = self.rng.randint(lo, hi)
                self.suppress.setdefault(staff.user_id, []).append((t - 60, t + length + 60))
                return staff, t, ws
        return None

    # -- the four kinds ---------------------------------------------------------------------

    def _harvest(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        jobs, depts = ((Job.RECEPTIONIST,), (self.profile.front_desk,)) if round_ % 2 == 0 \
            else (WARD_CARE, self.profile.postpartum)
        n = rng.randint(260, 400)
        mean_gap = rng.uniform(13.0, 18.0)
        picked = self._within_session(day, jobs, depts, int(n * mean_gap * 1.15), 3600)
        if picked is None:
            return None
        staff, t, ws = picked
        acct = staff.account_on(day)
        mothers = self.census.recent_mothers(t)
        victims = rng.sample(mothers[: max(n * 2, 600)], min(n, len(mothers)))
        rows: list[Row] = []
        next_search = 0
        for k, pid in enumerate(victims):
            if k == next_search:  # page through the list of recent mothers
                rows.append((t, acct, "search", None, "reception", rng.randint(20, 50), ws))
                t += rng.randint(3, 10)
                next_search += rng.randint(15, 30)
            rows.append((t, acct, "view", pid, "reception", 1, ws))
            t += 6 + int(rng.expovariate(1 / (mean_gap - 6)))
        a, b = self.suppress[staff.user_id][-1]
        self.suppress[staff.user_id][-1] = (a, max(b, rows[-1][0] + 60))
        minutes = (rows[-1][0] - rows[0][0]) // 60
        return Incident(
            "", "bulk_harvest",
            f"{staff.role.replace('_', ' ').capitalize()} {staff.user_id} ({staff.full_name}, "
            f"{acct.department}) opened the registration and contact details of "
            f"{len(victims)} distinct recent maternity patients in {minutes} minutes from "
            f"{ws.name}, the pattern of the 2024 leak of new mothers' data.",
            staff, ws, len(victims), rows)

    def _export(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        billing = self.profile.codes(Kind.BILLING)
        picked = self._within_session(day, (Job.CASHIER,), billing, 120, 1800)
        if picked is None:
            picked = self._within_session(day, (Job.DOCTOR, Job.NURSE), self.profile.maternity,
                                          120, 1800)
        if picked is None:
            return None
        staff, t, ws = picked
        acct = staff.account_on(day)
        module = "billing" if staff.job == Job.CASHIER else "emr"
        count = rng.randint(2000, 6000)
        rows: list[Row] = [
            (t, acct, "search", None, module, 50, ws),
            (t + rng.randint(20, 90), acct, "export", None, module, count, ws),
        ]
        return Incident(
            "", "bulk_export",
            f"{staff.role.replace('_', ' ').capitalize()} {staff.user_id} ({staff.full_name}) "
            f"exported {count:,} patient records from the {module} module in one go on "
            f"{ws.name}.",
            staff, ws, count, rows)

    def _scraper(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        pool = [s for s in self.hospital.staff if s.remote and s.user_id not in self.used]
        pool = pool or self._candidates(day, (Job.IT,), self.profile.codes(Kind.IT),
                                        (self.profile.day_window, None))
        if not pool:
            return None
        staff = rng.choice(pool)
        acct = staff.account_on(day)
        ws = self.hospital.workstation_for(staff, day, rng)
        t = self.clock.at(day, rng.uniform(60, 210))
        issued = [p for p in self.census.new_ids if p[2:6] == str(day.year)]
        first = issued[rng.randrange(len(issued) // 4, max(len(issued) // 4 + 1,
                                                             len(issued) // 2))]
        year, number = first[2:6], int(first[6:])
        rate = rng.randint(3, 5)
        seconds = rng.randint(300, 480)
        rows: list[Row] = [(t, acct, "login", None, "emr", 0, ws)]
        t += rng.randint(5, 15)
        for s in range(seconds):
            for _ in range(max(1, rate + rng.choice((-1, 0, 0, 1)))):
                rows.append((t + s, acct, "view", f"BN{year}{number:06d}", "emr", 1, ws))
                number += 1
        rows.append((t + seconds + rng.randint(1, 5), acct, "logout", None, "emr", 0, ws))
        views = len(rows) - 2
        return Incident(
            "", "scripted_scraper",
            f"Vendor support account {staff.user_id} ({staff.vendor or staff.department}) "
            f"viewed {views} sequential patient ids from {first} at about {rate} a second for "
            f"{seconds // 60} minutes from {ws.name} ({ws.ip}) in the middle of the night.",
            staff, ws, views, rows)

    def _brute_force(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        victims = self._candidates(day, (Job.DOCTOR,), self.profile.maternity,
                                   (self.profile.day_window, None))
        victims = [s for s in victims if s.shift == self.profile.office] or victims
        if not victims:
            return None
        staff = victims[0]
        acct = staff.account_on(day)
        ws = self.profile.site.vpn_endpoint(200 + round_ % 40)
        t = self.clock.at(day, rng.uniform(21 * 60, 22 * 60 + 20))
        tries = rng.randint(20, 40)
        span = rng.randint(120, 280)
        offsets = sorted([0, *rng.sample(range(1, span), tries - 1)])
        rows: list[Row] = [(t + o, acct, "login_failed", None, "emr", 0, ws) for o in offsets]
        t += span + rng.randint(5, 20)
        rows.append((t, acct, "login", None, "emr", 0, ws))
        mothers = self.census.recent_mothers(t)[:200]
        viewed = rng.sample(mothers, min(len(mothers), rng.randint(10, 25)))
        for pid in viewed:
            t += rng.randint(20, 90)
            if rng.random() < 0.2:
                rows.append((t, acct, "search", None, "emr", search_size(rng), ws))
                t += rng.randint(5, 20)
            rows.append((t, acct, "view", pid, "emr", 1, ws))
        rows.append((t + rng.randint(30, 120), acct, "logout", None, "emr", 0, ws))
        return Incident(
            "", "brute_force",
            f"{tries} failed logins on the account of off-duty doctor {staff.user_id} "
            f"({staff.full_name}, {acct.department}) within {span // 60} minutes from "
            f"{ws.ip}, then a successful login and {len(viewed)} patient record views.",
            staff, ws, len(viewed), rows)
