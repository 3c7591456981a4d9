"""Normal HIS traffic: what each member of staff does during one shift.

A shift is one or two sessions (a meal break may log the user out): a login (sometimes
after one or two mistyped passwords), a sequence of *tasks*, a logout. A task is about
one patient — mostly one of the user's own department's current patients, sometimes one
they just had open (a revisit), rarely one elsewhere (a consult; never a flagged
patient's, whose record asks for a reason first — only the care team and the services,
laboratory, imaging, pharmacy, billing and reception, open those) — and is an optional
search, one to four views, perhaps an update and a print, seconds apart. Between the end
of one task and the start of the next there are at least ``MIN_GAP`` seconds; the mean
gap follows the role's busy hours. That floor is what keeps the documented normal-traffic
bounds true by construction, whatever ``activity`` is set to. The logout follows the last
task or the session's end, whichever is later — never the next, overshot, draw (a quiet
evening hour's gap is long), so nobody logs out hours after their shift.
"""

from __future__ import annotations

import random
from datetime import date
from math import log

from simulator.census import Census
from simulator.clock import Clock
from simulator.departments import Kind, Workstation
from simulator.hospital import Account, Hospital, Staff
from simulator.profile import Job, Work

#: One event: time, who, action, patient id or None, HIS module, record count, where.
Row = tuple[int, Account, str, str | None, str, int, Workstation]

#: Seconds between the last event of one patient task and the first of the next, at least.
#: 3600 / 48 = 75, so no user opens more than 76 distinct patients in any hour.
MIN_GAP = 48
#: At most this many views in one task, at least ``VIEW_SPACING`` seconds apart.
MAX_VIEWS = 4

_N = 0.3  # a quiet night hour

_CURVES: dict[Kind, tuple[float, ...]] = {
    Kind.EMERGENCY: (.5, .45, .4, .4, .4, .45, .6, .75, .9, 1, 1, .95,
                     .85, .85, .85, .9, .9, .95, 1, 1, .95, .85, .7, .6),
    Kind.WARD: (_N, .25, .2, .2, .25, .4, .6, .8, 1, 1, .9, .75,
                .5, .7, .75, .7, .6, .6, .6, .55, .5, .45, .4, .35),
    Kind.OUTPATIENT: (0, 0, 0, 0, 0, 0, .6, 1, 1, 1, .9, .7, .3, .8, .8, .7, .5, .2, .2, .2, .2,
                      .2, .2, .2),
    Kind.LAB: (.35, _N, _N, _N, .35, .6, .9, 1, 1, 1, .95, .85,
               .6, .7, .75, .7, .6, .55, .5, .5, .45, .4, .4, .35),
    Kind.RADIOLOGY: (.25, .2, .2, .2, .2, .3, .5, .8, 1, 1, 1, .8,
                     .4, .8, .9, .9, .7, .5, .4, .4, .35, _N, _N, .25),
    Kind.PHARMACY: (_N, .25, .2, .2, .2, _N, .5, .7, .85, .85, .85, .8,
                    .5, 1, 1, 1, 1, .6, .5, .45, .4, .35, _N, _N),
    Kind.BILLING: (.2, .2, .2, .2, .2, .2, .3, .5, .8, .8, .8, .8,
                   .3, 1, 1, 1, 1, .4, .4, .4, .4, .3, .2, .2),
    Kind.RECEPTION: (_N, _N, _N, _N, _N, .4, 1, 1, 1, 1, 1, .8,
                     .4, .8, .8, .8, .8, .5, .5, .5, .5, .5, .4, _N),
    Kind.IT: (.1, .1, .1, .1, .1, .1, .2, .4, .6, .6, .6, .6, .3, .6, .6, .6, .6, .3, .2, .2,
              .1, .1, .1, .1),
}
_CURVES[Kind.PARTNER] = _CURVES[Kind.IT]


def search_size(rng: random.Random) -> int:
    """Patients a search lists: mostly a handful, at most one page of 50."""
    return min(50, 1 + int(rng.expovariate(1 / 6)))


class Traffic:
    """Generates the normal events of each staff member's shifts."""

    def __init__(self, hospital: Hospital, census: Census, clock: Clock, seed: int,
                 activity: float, typo_rate: float) -> None:
        self.hospital = hospital
        self.census = census
        self.clock = clock
        self.seed = seed
        self.activity = activity
        self.typo_rate = typo_rate
        #: user id → their own patient record (staff who are patients); never opened at work
        self.own_records: dict[str, str] = {}

    def shift(self, staff: Staff, day: date) -> list[Row]:
        """Every event of the shift ``staff`` starts on ``day`` (empty when off duty)."""
        shift = staff.on_duty(day)
        if shift is None:
            return []
        rng = random.Random(f"{self.seed}:traffic:{staff.user_id}:{day.isoformat()}")
        acct = staff.account_on(day)
        hosp = self.hospital.profile
        kind = hosp.kind(acct.department)
        prof = hosp.work_for(acct.department, staff.job, staff.vendor)
        out: list[Row] = []
        window = hosp.windows[shift]
        begin, finish = window.start, window.end
        if staff.job == Job.VENDOR:  # partners drop in for an hour or two, if at all
            if rng.random() < 0.5:
                return []
            begin = rng.randint(8 * 60 + 30, 15 * 60)
            finish = begin + rng.randint(20, 120)
        start = self.clock.at(day, begin + rng.uniform(-15, 10))
        end = self.clock.at(day, finish + rng.uniform(-5, 25))
        if rng.random() < 0.12:  # staying late to finish notes
            end += rng.randint(10 * 60, 45 * 60)
        sessions = [(start, end)]
        brk = window.brk
        if brk is not None and staff.job != Job.VENDOR and rng.random() < brk[2]:
            b0 = self.clock.at(day, rng.uniform(brk[0], brk[1]))
            b1 = b0 + rng.randint(25 * 60, 60 * 60)
            if start + 3600 < b0 and b1 + 3600 < end:
                sessions = [(start, b0), (b1, end)]
        ws = self.hospital.workstation_for(staff, day, rng)
        pool = {"own": acct.department, "arrivals": f"arrivals:{acct.department}"}.get(
            prof.pool, prof.pool)
        curve = hosp.curves.get(kind) or _CURVES[kind]
        caseload: list[str] = []
        if prof.caseload is not None:  # the beds this nurse has this shift
            own = self.census.pool(acct.department, (start - self.clock.t0) // 3600)
            caseload = rng.sample(own, min(len(own), rng.randint(*prof.caseload)))
        for s0, s1 in sessions:
            self._session(acct, ws, s0, s1, prof, pool, curve, rng, out, caseload)
            if rng.random() < 0.3:  # nurses and doctors move between stations
                ws = self.hospital.workstation_for(staff, day, rng)
        self._extras(staff, acct, ws, shift, start, end, rng, out)
        return out

    def _session(self, acct: Account, ws: Workstation, start: int, end: int, prof: Work,
                 pool_name: str, curve: tuple[float, ...], rng: random.Random,
                 out: list[Row], caseload: list[str]) -> None:
        emit = out.append
        main = prof.modules[0]
        t = self.login(acct, ws, start, main, rng, out)
        census, t0 = self.census, self.clock.t0
        flagged = census.flagged_ids
        own_record = self.own_records.get(acct.user_id)
        offset = self.clock.offset(self.clock.day_of(start))
        activity = self.activity
        recent: list[str] = []
        # Hot loop: draws are spelled with random() (randint and choice cost ~1 µs each).
        rand = rng.random
        gap, revisit, p_search, p_update, p_print = (prof.gap, prof.revisit, prof.search,
                                                     prof.update, prof.print)
        lo, span = prof.pace[0], prof.pace[1] - prof.pace[0] + 1
        v_lo, v_span = prof.views[0], prof.views[1] - prof.views[0] + 1
        modules, n_modules = prof.modules, len(prof.modules)
        beyond, n_case = prof.beyond, len(caseload)
        last = t  # end of the last task: the logout follows it, not the overshot draw
        while True:
            last = t
            intensity = curve[((t + offset) // 3600) % 24] * activity
            if intensity <= 0:
                t = (t // 3600 + 1) * 3600
                if t >= end:
                    break
                continue
            t += MIN_GAP + int(-log(1.0 - rand()) * max(1.0, gap / intensity - MIN_GAP))
            if t >= end - 30:
                break
            hour = (t - t0) // 3600
            if pool_name == "none":
                t = self._admin_task(acct, ws, t, hour, prof, rng, out)
                continue
            if recent and rand() < revisit:
                pid = recent[int(rand() * len(recent))]
            else:
                consult = rand() < 0.03
                if n_case and not consult and rand() >= beyond:
                    pid = caseload[int(rand() * n_case)]
                else:
                    pool = census.pool("all" if consult else pool_name, hour)
                    if not pool:
                        emit((t, acct, "search", None, main, 0, ws))
                        continue
                    pid = pool[int(rand() * len(pool))]
                    if n_case and not consult:  # a new admission or a handover
                        caseload[int(rand() * n_case)] = pid
                if consult and pid in flagged:  # break-the-glass: a consult goes elsewhere
                    own = census.pool(pool_name, hour)
                    if not own:
                        continue
                    pid = own[int(rand() * len(own))]
                recent.append(pid)
                if len(recent) > 8:
                    del recent[0]
            if pid == own_record:  # opening one's own record is what the rule looks for
                continue
            if rand() < p_search:
                emit((t, acct, "search", None, main, search_size(rng), ws))
                t += lo + int(rand() * span)
            for _ in range(v_lo + int(rand() * v_span)):
                emit((t, acct, "view", pid, modules[int(rand() * n_modules)], 1, ws))
                t += lo + int(rand() * span)
            if rand() < p_update:
                emit((t, acct, "update", pid, main, 1, ws))
                t += lo + int(rand() * span)
            if rand() < p_print:
                emit((t, acct, "print", pid, main, 1, ws))
                t += lo + int(rand() * span)
        emit((max(last, end), acct, "logout", None, main, 0, ws))

    def _admin_task(self, acct: Account, ws: Workstation, t: int, hour: int, prof: Work,
                    rng: random.Random, out: list[Row]) -> int:
        """IT and vendor work is on accounts and settings; now and then a patient's record
        is opened to reproduce a reported problem."""
        if rng.random() < prof.support_view:
            pool = self.census.pool("all", hour)
            if pool and (pid := rng.choice(pool)) not in self.census.flagged_ids \
                    and pid != self.own_records.get(acct.user_id):
                out.append((t, acct, "view", pid, "emr", 1, ws))
                return t + rng.randint(20, 120)
        action = "search" if rng.random() < prof.search else "update"
        out.append((t, acct, action, None, prof.modules[0], 0, ws))
        return t + rng.randint(10, 90)

    def login(self, acct: Account, ws: Workstation, t: int, module: str, rng: random.Random,
              out: list[Row]) -> int:
        """A login, after one or two mistyped passwords now and then; returns the next time."""
        if rng.random() < self.typo_rate:
            for _ in range(1 if rng.random() < 0.75 else 2):
                out.append((t, acct, "login_failed", None, module, 0, ws))
                t += rng.randint(4, 15)
        out.append((t, acct, "login", None, module, 0, ws))
        return t + rng.randint(5, 60)

    def _extras(self, staff: Staff, acct: Account, ws: Workstation, shift: str, start: int,
                end: int, rng: random.Random, out: list[Row]) -> None:
        """Routine list work: ward lists, lab worklists, the daily billing export."""
        hosp = self.hospital.profile
        kind, job = hosp.kind(acct.department), staff.job
        if kind == Kind.WARD and job in (Job.NURSE, Job.MIDWIFE) and rng.random() < 0.5:
            out.append((start + rng.randint(120, 900), acct, "print", None, "emr",
                        rng.randint(8, 40), ws))
        elif job == Job.TECHNICIAN and kind == Kind.LAB and rng.random() < 0.4:
            out.append((start + rng.randint(120, 1200), acct, "print", None, "lab",
                        rng.randint(10, 120), ws))
        elif job == Job.CASHIER and shift == hosp.day_window:
            out.append((end - rng.randint(600, 3000), acct, "export", None, "billing",
                        rng.randint(20, 200), ws))
            if rng.random() < 0.3:
                out.append((end - rng.randint(300, 3000), acct, "print", None, "billing",
                            rng.randint(10, 150), ws))
        elif kind == Kind.WARD and job == Job.DOCTOR and rng.random() < 0.1:
            out.append((start + rng.randint(1800, 7200), acct, "export", None, "emr",
                        rng.randint(5, 60), ws))
