"""A hospital profile: one hospital's vocabulary, organisation and habits, as data.

Why profiles: detection rules must not be tuned to one simulated hospital's words. The
generators (:mod:`.hospital`, :mod:`.census`, :mod:`.traffic`, the incident planners)
work with what people *do* — a :class:`Job`, a department :class:`~.departments.Kind`, a
shift's hours — and never with a role, department or shift word; each profile
(:mod:`simulator.profiles`) supplies its own words for them, its departments, its patient
flows, its rotas and how busy each kind of user is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from simulator.departments import CARE_KINDS, SERVICE_KINDS, Department, Kind, Workstation
from simulator.netplan import Site

#: Seconds between the views of one task, at least.
VIEW_SPACING = 3


class Job(Enum):
    """What a member of staff does, whatever their title says."""

    DOCTOR = "doctor"
    NURSE = "nurse"
    MIDWIFE = "midwife"
    TECHNICIAN = "technician"  # laboratory or imaging, by department
    PHARMACIST = "pharmacist"
    CASHIER = "cashier"
    RECEPTIONIST = "receptionist"
    IT = "it"
    VENDOR = "vendor"


#: Bedside staff: the harvesters of the ward incidents.
WARD_CARE = (Job.NURSE, Job.MIDWIFE)


class Rota(Enum):
    """How a shift word's duty days fall."""

    DAY = "day"  # office departments: weekdays and every other Saturday; else five in seven
    OFFICE = "office"  # weekdays; every other Saturday morning in office departments
    FIVE_IN_SEVEN = "five_in_seven"
    ALTERNATE = "alternate"  # every other day (night staff)
    ON_CALL = "on_call"  # 24 hours every fourth day, off the next, office days otherwise
    ROTATING = "rotating"  # through ``windows`` in turn, one a day (None: off)


@dataclass(frozen=True)
class Window:
    """The hours of a shift as worked: minutes after the local midnight it starts on
    (past 1440 into the next day), and the meal or sleep break that may log the user out:
    (earliest start, latest start, chance)."""

    start: int
    end: int
    brk: tuple[int, int, float] | None = None

    def hours(self) -> str:
        """``07:00-16:00``, as a hospital writes a shift's hours."""
        def hhmm(m: int) -> str:
            return f"{m // 60 % 24:02d}:{m % 60:02d}"
        return f"{hhmm(self.start)}-{hhmm(self.end)}"


@dataclass(frozen=True)
class Shift:
    """A roster shift word: its rota and the windows (keys of ``Profile.windows``) it
    works — for ``ON_CALL`` the 24-hour one then the office one, for ``OFFICE`` the
    weekday one then (optionally) the Saturday one, for ``ROTATING`` the cycle."""

    rota: Rota
    windows: tuple[str | None, ...]


@dataclass(frozen=True)
class Work:
    """How one kind of user works. ``pool`` is a census pool name, ``own`` (the
    department's patients), ``arrivals`` (those the user's desk registers) or ``none``.

    ``caseload``: at the start of each shift the user is given this many of the
    department's current patients (a nurse's beds), and a task opens one of them unless
    a draw below ``beyond`` sends it to the rest of the department — a new admission or
    a handover, which then takes the place of one of them."""

    pool: str
    gap: float  # mean seconds between tasks at full intensity
    views: tuple[int, int]
    revisit: float
    search: float
    update: float
    print: float
    modules: tuple[str, ...]  # view modules, drawn uniformly (repeat to weight)
    pace: tuple[int, int] = (VIEW_SPACING, 40)  # seconds between the events of one task
    support_view: float = 0.0  # admin work only: chance a task opens a patient's record
    caseload: tuple[int, int] | None = None
    beyond: float = 0.0


@dataclass(frozen=True)
class Visit:
    """Patients arriving into a department: outpatient and antenatal visits, emergency
    arrivals, admissions. ``per_day`` names the ``HospitalSpec`` field with the number on
    a full day (times ``scale``, times the weekday's factor, Monday first); arrival hours
    are drawn by ``weights`` over ``hours``, or else uniformly in ``window``. A stay lasts
    ``stay`` units of ``unit`` seconds (whole days end in the next morning round). A
    share ``onward`` is admitted afterwards to one of ``wards`` (children to
    ``children``); a share ``theatre`` has an operation."""

    label: str  # orders arrivals at the same second; unique in a profile
    to: tuple[tuple[str, float], ...]
    per_day: str
    female: float
    age: tuple[int, int]
    returning: float
    stay: tuple[int, int]
    unit: int = 1
    scale: float = 1.0
    weekdays: tuple[float, ...] = (1.0,) * 7
    hours: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    window: tuple[int, int] = (0, 1440)
    onward: float = 0.0
    wards: tuple[tuple[str, float], ...] = ()
    children: str = ""
    theatre: float = 0.0
    theatre_in: str = ""


@dataclass(frozen=True)
class Birth:
    """A mother labours in one of ``labour``, moves to ``postpartum`` after delivery and
    goes home two to five days later; each newborn rooms in with her or (a share
    ``neonatal_share``) goes to ``neonatal``. A share ``caesarean`` deliver in
    ``theatre``."""

    label: str
    per_day: str
    labour: tuple[str, ...]
    postpartum: str
    neonatal: str
    neonatal_share: float = 0.2
    caesarean: float = 0.0
    theatre: str = ""


@dataclass(frozen=True)
class Floater:
    """Staff of ``(department, job)`` who also work in ``secondary``: a share ``share``
    of them, there one duty day in ``every``."""

    department: str
    job: Job
    secondary: str
    share: float
    every: int = 3


@dataclass(frozen=True)
class Profile:
    """One hospital: its words, departments, rotas, patient flows and work habits."""

    name: str
    description: str
    departments: dict[str, Department]
    #: role word (as on the roster and in the log) → job
    roles: dict[str, Job]
    female_share: dict[str, float]
    windows: dict[str, Window]
    #: roster shift word → how it is worked
    shifts: dict[str, Shift]
    #: (department kind, job) → roster shift word → share; anything else works ``office``
    shift_mix: dict[tuple[Kind, Job], dict[str, float]]
    #: the office-hours shift word, and its window (what an on-call doctor works between
    #: calls, and what the incidents call "a day shift")
    office: str
    day_window: str
    #: departments on weekday office rotas under ``Rota.DAY``/``Rota.OFFICE``
    office_kinds: frozenset[Kind]
    work: dict[tuple[Kind, Job], Work]
    default_work: Work
    sponsor_work: Work
    flows: tuple[Visit | Birth, ...]
    #: departments whose patients go to imaging, in the imaging pool's order
    imaging: tuple[str, ...]
    #: the main reception desk (registers most arrivals; billing falls back on it)
    front_desk: str
    maternity: tuple[str, ...]
    postpartum: tuple[str, ...]
    neonatal: tuple[str, ...]
    antenatal: tuple[str, ...]
    #: desks in another building than the maternity wards (the workstation hop)
    hop_desks: tuple[str, ...]
    #: where a midwife's stolen password is tried: another department than hers
    elsewhere: tuple[str, str]
    site: Site
    his_vendor: str
    sponsor: str
    #: staff user ids: prefix and digits; vendor accounts: prefix and digits
    staff_ids: tuple[str, int] = ("nv", 5)
    vendor_ids: tuple[str, int] = ("dt", 4)
    floaters: tuple[Floater, ...] = ()
    #: the external drug-sponsor's account: every ``sponsor_every``-th vendor account
    sponsor_every: int = 3
    curves: dict[Kind, tuple[float, ...]] = field(default_factory=dict)

    # -- vocabulary ----------------------------------------------------------------------

    def job(self, role: str) -> Job:
        return self.roles[role]

    def words(self, *jobs: Job) -> tuple[str, ...]:
        """The role words of ``jobs``."""
        return tuple(w for w, j in self.roles.items() if j in jobs)

    def kind(self, department: str) -> Kind:
        return self.departments[department].kind

    def codes(self, *kinds: Kind) -> tuple[str, ...]:
        """Departments of ``kinds``, in the profile's order."""
        return tuple(d for d, dep in self.departments.items() if dep.kind in kinds)

    @property
    def clinical(self) -> tuple[str, ...]:
        """Departments with encounters of their own."""
        return self.codes(*CARE_KINDS)

    @property
    def services(self) -> tuple[str, ...]:
        return self.codes(*SERVICE_KINDS)

    @property
    def maternity_wards(self) -> tuple[str, ...]:
        """Maternity departments that are wards (not the antenatal clinic)."""
        return tuple(d for d in self.maternity if self.kind(d) == Kind.WARD)

    def building(self, department: str) -> str:
        return "remote" if department == "vpn" else self.departments[department].building

    # -- rotas ---------------------------------------------------------------------------

    def on_duty(self, word: str, day: date, phase: int, department: str) -> str | None:
        """The window a person on roster shift ``word`` starts on ``day`` (rota phase
        ``phase``, working in ``department`` that day), or None when off."""
        shift = self.shifts[word]
        o = day.toordinal() + phase
        weekday = day.weekday()
        rota, windows = shift.rota, shift.windows
        if rota == Rota.ALTERNATE:
            return windows[0] if o % 2 == 0 else None
        if rota == Rota.ON_CALL:
            if o % 4 == 0:
                return windows[0]
            return windows[1] if o % 4 != 1 and weekday < 5 else None
        if rota == Rota.ROTATING:
            return windows[o % len(windows)]
        office = self.kind(department) in self.office_kinds
        if rota == Rota.DAY and office:
            return windows[0] if weekday < 5 or (weekday == 5 and o % 2 == 0) else None
        if rota == Rota.OFFICE:
            if weekday < 5:
                return windows[0]
            saturday = windows[1] if len(windows) > 1 else None
            return saturday if weekday == 5 and office and o % 2 == 0 else None
        return windows[0] if o % 7 < 5 else None

    def shift_hours(self, word: str) -> str:
        """The hours a shift word can mean, as a hospital's IT team would write them for
        phiwatch (``HH:MM-HH:MM``, several joined by ``+``)."""
        spans: list[str] = []
        for key in self.shifts[word].windows:
            if key is None:
                continue
            w = self.windows[key]
            if w.end - w.start >= 1440:
                return w.hours()
            if not any(_covers(self.windows[k], w) for k in self.shifts[word].windows
                       if k is not None and k != key):
                spans.append(w.hours())
        return "+".join(dict.fromkeys(spans))

    def work_for(self, department: str, job: Job, vendor: str) -> Work:
        if vendor == self.sponsor:
            return self.sponsor_work
        return self.work.get((self.kind(department), job), self.default_work)

    # -- addresses -----------------------------------------------------------------------

    def workstation(self, department: str, n: int) -> Workstation:
        """Workstation ``n`` (1-based) of ``department`` under the site's address plan."""
        dept = self.departments[department]
        return self.site.workstation(dept.tag, dept.subnet, department, n)


def _covers(a: Window, b: Window) -> bool:
    """Whether window ``a`` holds all of window ``b``."""
    return a.start <= b.start and b.end <= a.end


def pick(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    """One of weighted ``options``; a single option is taken without a draw."""
    if len(options) == 1:
        return options[0][0]
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]
