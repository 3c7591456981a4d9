"""Injected leaks that only context, baselines or sequences reveal (issue 3, point 3).

Each round places one of every kind, like the classic four of :mod:`incidents`; none
crosses a fixed threshold of the shipped packs, so each needs its own rule:

- ``slow_harvest``: on the period's last day (the harvester has a normal history before
  it), a maternity-ward nurse or midwife spends a whole day shift (6–7.5 h)
  opening recent mothers' contact details at 40–70 distinct patients an hour — under the
  120-an-hour bulk threshold, several times their own and their peers' peak (about 20 at most).
- ``maternity_bulk_nonclinical``: a billing clerk opens 70–100 maternity patients'
  registration records in 60–75 minutes (normal billing touches postpartum patients only
  at discharge: measured at most 13 an hour).
- ``off_shift_access``: a day-shift maternity nurse or midwife logs in at 22:00–23:00 from
  their ward and opens a dozen patients; nobody on a day shift works after 17:10.
- ``flagged_patient_no_care``: a ward nurse or doctor opens a flagged patient (VIP,
  staff member, protection order …) their department never had an encounter with.
- ``terminated_account``: the account of someone who left days before logs in and opens
  records.
- ``vendor_patient_data``: the drug sponsor's account (the letter's point 3) opens
  maternity patients' registration (identity and contact) records.
- ``sequential_enumeration``: an IT account views consecutive patient ids at 30–60 s each
  (60–120 an hour, human speed: machine-speed and bulk rules stay quiet).
- ``workstation_hop``: a maternity doctor's account logs in at a workstation in another
  building one to four minutes after it was used on their ward, while still in use there.
- ``own_record``: a staff member who is also a patient (same ``national_id``, see
  :mod:`identity`) opens their own record.
- ``failed_then_success``: 5–8 failed logins within three minutes on an off-duty
  midwife's account at another department's workstation, then a success (below the
  10-in-5-minutes burst rule; normal typos are one or two).
- ``external_login``: a doctor's account logs in from a public address outside the
  hospital's networks (``networks.csv``) in the evening and opens records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from simulator.departments import Kind, Workstation
from simulator.hospital import Staff
from simulator.identity import Identities
from simulator.incidents import CLASSIC_KINDS, Incident, Planner
from simulator.profile import WARD_CARE, Job
from simulator.traffic import Row, search_size

CONTEXT_KINDS: tuple[str, ...] = (
    "slow_harvest", "maternity_bulk_nonclinical", "off_shift_access",
    "flagged_patient_no_care", "terminated_account", "vendor_patient_data",
    "sequential_enumeration", "workstation_hop", "own_record", "failed_then_success",
    "external_login",
)
ALL_KINDS: tuple[str, ...] = CLASSIC_KINDS + CONTEXT_KINDS
#: A late-evening login: around the end of an evening shift (22:00), local minutes.
_LATE_EVENING = 22 * 60


class ContextPlanner(Planner):
    """The :class:`Planner` with the context-dependent kinds."""

    identities: Identities | None = None

    def makers(self) -> dict[str, Callable[[date, int], Incident | None]]:
        return {**super().makers(),
                "slow_harvest": self._slow_harvest,
                "maternity_bulk_nonclinical": self._maternity_nonclinical,
                "off_shift_access": self._off_shift, "flagged_patient_no_care": self._flagged,
                "terminated_account": self._terminated, "vendor_patient_data": self._vendor,
                "sequential_enumeration": self._sequential, "workstation_hop": self._hop,
                "own_record": self._own_record, "failed_then_success": self._failed_then_ok,
                "external_login": self._external}

    # -- helpers ----------------------------------------------------------------------------

    def _views(self, rows: list[Row], staff: Staff, day: date, ws: Workstation, t: int,
               patients: list[str], gap: tuple[int, int], module: str) -> int:
        """One view of each of ``patients``, ``gap`` seconds apart; returns the last time."""
        acct = staff.account_on(day)
        for k, pid in enumerate(patients):
            if k:
                t += self.rng.randint(*gap)
            rows.append((t, acct, "view", pid, module, 1, ws))
        return t

    def _session_rows(self, staff: Staff, day: date, ws: Workstation, t: int,
                      patients: list[str], gap: tuple[int, int], module: str) -> list[Row]:
        """Login, a view of each patient, logout; the user's normal work around it pauses."""
        acct = staff.account_on(day)
        rows: list[Row] = [(t, acct, "login", None, module, 0, ws)]
        last = self._views(rows, staff, day, ws, t + self.rng.randint(10, 40), patients, gap,
                           module)
        rows.append((last + self.rng.randint(20, 90), acct, "logout", None, module, 0, ws))
        self.suppress.setdefault(staff.user_id, []).append((t - 1800, rows[-1][0] + 1800))
        return rows

    def _mothers(self, t: int, n: int) -> list[str]:
        mothers = self.census.recent_mothers(t)
        return self.rng.sample(mothers, min(n, len(mothers)))

    def _who(self, staff: Staff, ws: Workstation) -> str:
        return (f"{staff.role.replace('_', ' ').capitalize()} {staff.user_id} "
                f"({staff.full_name}, {staff.department}) on {ws.name} ({ws.ip})")

    # -- kinds ------------------------------------------------------------------------------

    def _slow_harvest(self, _: date, round_: int) -> Incident | None:
        """On the last day of the period on which a maternity ward's nurse or midwife
        works a day shift, so that the harvester has a history of normal days for a
        baseline to compare with."""
        for day in reversed(self.clock.period_days()):
            for staff in self._candidates(day, WARD_CARE, self.profile.maternity_wards,
                                          (self.profile.day_window,)):
                sessions = self._sessions(staff, day)
                if sessions:
                    return self._slow_harvest_of(staff, day, sessions[0])
        return None

    def _slow_harvest_of(self, staff: Staff, day: date,
                         session: tuple[int, int, Workstation]) -> Incident:
        rng = self.rng
        acct, ws = staff.account_on(day), session[2]
        login = session[0]
        hours = rng.uniform(6.0, 7.5)
        t = login + rng.randint(300, 1200)
        stop = t + int(hours * 3600)
        victims = iter(self._mothers(t, 2000))
        rows: list[Row] = [(login, acct, "login", None, "emr", 0, ws)]
        rates: list[int] = []
        pid: str | None = ""
        while t < stop and pid is not None:
            rate = rng.randint(40, 70)
            rates.append(rate)
            hour_end = min(stop, t + 3600)
            while t < hour_end:
                pid = next(victims, None)
                if pid is None:  # a small hospital runs out of recent mothers
                    break
                if rng.random() < 0.06:
                    rows.append((t, acct, "search", None, "reception", search_size(rng), ws))
                    t += rng.randint(3, 10)
                rows.append((t, acct, "view", pid, "reception", 1, ws))
                t += int(3600 / rate * rng.uniform(0.8, 1.2))
        rows.append((t + rng.randint(60, 600), acct, "logout", None, "emr", 0, ws))
        self.suppress.setdefault(staff.user_id, []).append(
            (login - 3600, rows[-1][0] + 3 * 3600))
        n = sum(1 for r in rows if r[2] == "view")
        return Incident(
            "", "slow_harvest",
            f"{self._who(staff, ws)} spent {hours:.1f} hours of a day shift opening the "
            f"registration and contact details of {n} recent mothers at "
            f"{min(rates)}–{max(rates)} an hour, below the bulk threshold but far above "
            f"a ward nurse's usual 20.",
            staff, ws, n, rows,
            {"minutes": (rows[-1][0] - rows[0][0]) // 60, "max_rate_per_hour": max(rates)})

    def _maternity_nonclinical(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        n = rng.randint(70, 100)
        minutes = rng.randint(60, 75)
        picked = self._within_session(day, (Job.CASHIER,), self.profile.codes(Kind.BILLING),
                                      minutes * 60,
                                      1800)
        if picked is None:
            return None
        staff, t, ws = picked
        rows: list[Row] = [(t, staff.account_on(day), "search", None, "reception", 50, ws)]
        gap = minutes * 60 // n
        self._views(rows, staff, day, ws, t + rng.randint(5, 20), self._mothers(t, n),
                    (gap // 2, gap * 3 // 2), "reception")
        return Incident(
            "", "maternity_bulk_nonclinical",
            f"{self._who(staff, ws)} opened the registration records of {n} recent "
            f"maternity patients in about {minutes} minutes, none of them being discharged.",
            staff, ws, n, rows, {"minutes": minutes})

    def _off_shift(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        day_window = self.profile.day_window
        for staff in self._candidates(day, WARD_CARE, self.profile.maternity_wards,
                                      (day_window, None)):
            if staff.shift != self.profile.office:
                continue
            ws = self.hospital.workstation_for(staff, day, rng)
            t = self.clock.at(day, rng.uniform(22 * 60, 23 * 60))
            n = rng.randint(8, 15)
            rows = self._session_rows(staff, day, ws, t, self._mothers(t, n), (60, 150), "emr")
            return Incident(
                "", "off_shift_access",
                f"{self._who(staff, ws)}, who works {staff.shift} shifts "
                f"({self.profile.windows[day_window].hours()}), logged in at "
                f"{self.clock.iso(t)[11:16]} and opened {n} maternity patients' records.",
                staff, ws, n, rows)
        return None

    def _flagged(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        seen: dict[str, set[str]] = {}
        for e in self.census.encounters:
            seen.setdefault(e.patient, set()).add(e.department)
        flagged = [p for p, reason in self.census.flagged if reason != "staff_member"]
        if not flagged:
            return None
        pid = rng.choice(flagged)
        wards = tuple(d for d in self.profile.clinical
                      if d not in seen.get(pid, ()))
        picked = self._within_session(day, (Job.NURSE, Job.DOCTOR), wards, 600, 1800)
        if picked is None:
            return None
        staff, t, ws = picked
        acct = staff.account_on(day)
        rows: list[Row] = [(t, acct, "search", None, "emr", 1, ws)]
        last = self._views(rows, staff, day, ws, t + rng.randint(5, 20), [pid] * rng.randint(2, 4),
                           (8, 60), "emr")
        rows.append((last + rng.randint(10, 60), acct, "print", pid, "emr", 1, ws))
        reason = dict(self.census.flagged)[pid]
        return Incident(
            "", "flagged_patient_no_care",
            f"{self._who(staff, ws)} opened and printed the record of flagged patient {pid} "
            f"({reason}), with whom their department has no encounter.",
            staff, ws, 1, rows)

    def _terminated(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        gone = [s for s in self.hospital.staff if s.status == "inactive" and s.end_date
                and (day - s.end_date).days >= 2 and s.user_id not in self.used]
        if not gone:
            return None
        staff = gone[rng.randrange(len(gone))]
        ws = self.hospital.workstation_for(staff, day, rng)
        t = self.clock.at(day, rng.uniform(9 * 60, 15 * 60))
        n = rng.randint(6, 15)
        rows = self._session_rows(staff, day, ws, t, self._mothers(t, n), (30, 120), "emr")
        assert staff.end_date is not None
        who = self._who(staff, ws)
        return Incident(
            "", "terminated_account",
            f"The account of {who[0].lower()}{who[1:]}, who left on "
            f"{staff.end_date.isoformat()}, logged in and opened {n} patients' records.",
            staff, ws, n, rows, {"days_after_end": (day - staff.end_date).days})

    def _vendor(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        pool = [s for s in self.hospital.staff if s.vendor == self.profile.sponsor
                and s.user_id not in self.used]
        if not pool:
            return None
        staff = pool[rng.randrange(len(pool))]
        ws = self.hospital.workstation_for(staff, day, rng)
        t = self.clock.at(day, rng.uniform(9 * 60 + 30, 14 * 60))
        n = rng.randint(20, 40)
        rows = self._session_rows(staff, day, ws, t, self._mothers(t, n), (40, 110),
                                  "reception")
        self.suppress[staff.user_id][-1] = (self.clock.midnight(day),
                                            self.clock.midnight(day) + 86400)
        return Incident(
            "", "vendor_patient_data",
            f"Sponsor account {staff.user_id} ({staff.vendor}) on {ws.name} opened the "
            f"registration (identity and contact) records of {n} new mothers.",
            staff, ws, n, rows)

    def _sequential(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        n = rng.randint(90, 140)
        picked = self._within_session(day, (Job.IT,), self.profile.codes(Kind.IT), n * 60,
                                      1800)
        if picked is None:
            return None
        staff, t, ws = picked
        issued = [p for p in self.census.new_ids if p[2:6] == str(day.year)]
        if not issued:
            return None
        first = issued[rng.randrange(len(issued) // 4, max(len(issued) // 4 + 1,
                                                             len(issued) // 2))]
        ids = [f"{first[:6]}{int(first[6:]) + k:06d}" for k in range(n)]
        rows: list[Row] = []
        self._views(rows, staff, day, ws, t, ids, (30, 60), "emr")
        return Incident(
            "", "sequential_enumeration",
            f"{self._who(staff, ws)} viewed {n} consecutive patient ids from {first} at "
            f"30–60 seconds each.", staff, ws, n, rows)

    def _hop(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        for staff in self._candidates(day, (Job.DOCTOR,), self.profile.maternity_wards,
                                      (self.profile.day_window,)):
            shift = self.traffic.shift(staff, day)
            views = [r for r in shift if r[2] == "view"]
            if len(views) < 20:
                continue
            near = views[len(views) // 2]
            far_dept = rng.choice(self.profile.hop_desks)
            ws = rng.choice(self.hospital.workstations[far_dept])
            t = near[0] + rng.randint(60, 240)
            n = rng.randint(3, 8)
            rows = self._session_rows(staff, day, ws, t, self._mothers(t, n), (20, 90),
                                      "reception")
            self.suppress[staff.user_id].pop()  # the owner keeps working on the ward
            return Incident(
                "", "workstation_hop",
                f"Doctor {staff.user_id} ({staff.full_name}) was working on {near[6].name} "
                f"({near[6].ip}) and {(t - near[0])} seconds later the same account logged in "
                f"on {ws.name} ({ws.ip}) in another building and opened {n} records.",
                staff, ws, n, rows,
                {"seconds_between_hosts": t - near[0]})
        return None

    def _own_record(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        ids = self.identities
        if ids is None or not ids.staff_patients:
            return None
        who = {uid: pid for pid, uid in ids.staff_patients.items()}
        cands = [s for s in self.hospital.staff if s.user_id in who and s.status == "active"
                 and s.user_id not in self.used and s.moved_on is None
                 and s.on_duty(day) == self.profile.day_window]
        rng.shuffle(cands)
        picked = self._fit(cands, day, 600, 1800)
        if picked is None:
            return None
        staff, t, ws = picked
        pid = who[staff.user_id]
        rows: list[Row] = []
        last = self._views(rows, staff, day, ws, t, [pid] * rng.randint(2, 4), (10, 90), "lab")
        rows.append((last + rng.randint(10, 60), staff.account_on(day), "print", pid, "lab", 1,
                     ws))
        return Incident(
            "", "own_record",
            f"{self._who(staff, ws)} opened and printed their own record {pid} (same "
            f"national id on the roster and the patient list).",
            staff, ws, 1, rows)

    def _failed_then_ok(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        off = self._candidates(day, (Job.MIDWIFE,), self.profile.maternity_wards, (None,))
        # office-hours midwives first; where those are never off on a weekday, any
        for staff in [s for s in off if s.shift == self.profile.office] or off:
            one, other = self.profile.elsewhere
            ws = rng.choice(self.hospital.workstations[one if staff.department != one
                                                       else other])
            acct = staff.account_on(day)
            t = self.clock.at(day, rng.uniform(12 * 60, 13 * 60))
            tries = rng.randint(5, 8)
            span = rng.randint(60, 180)
            offsets = sorted([0, *rng.sample(range(1, span), tries - 1)])
            rows: list[Row] = [(t + o, acct, "login_failed", None, "emr", 0, ws)
                               for o in offsets]
            n = rng.randint(5, 12)
            rows += self._session_rows(staff, day, ws, t + span + rng.randint(5, 30),
                                       self._mothers(t, n), (30, 90), "emr")
            return Incident(
                "", "failed_then_success",
                f"{tries} failed logins in {span} seconds on the account of off-duty midwife "
                f"{staff.user_id} ({staff.full_name}) at {ws.name} ({ws.ip}), then a "
                f"successful login and {n} record views.",
                staff, ws, n, rows, {"failed_logins": tries})
        return None

    def _external(self, day: date, round_: int) -> Incident | None:
        rng = self.rng
        for staff in self._candidates(day, (Job.DOCTOR,),
                                      self.profile.codes(Kind.OUTPATIENT, Kind.WARD),
                                      (self.profile.day_window, None)):
            if staff.shift != self.profile.office:
                continue
            ip = f"113.{rng.randint(160, 190)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            ws = Workstation(f"DESKTOP-{rng.randrange(16 ** 7):07X}", ip, "external")
            t = self.clock.at(day, rng.uniform(_LATE_EVENING - 120, _LATE_EVENING + 30))
            n = rng.randint(10, 20)
            rows = self._session_rows(staff, day, ws, t, self._mothers(t, n), (30, 120),
                                      "emr")
            return Incident(
                "", "external_login",
                f"Doctor {staff.user_id} ({staff.full_name})'s account logged in from {ip}, "
                f"outside the hospital's networks, and opened {n} maternity patients' records.",
                staff, ws, n, rows)
        return None

