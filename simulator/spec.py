"""What hospital to simulate: size, staff per department and role, patient flow, knobs.

The defaults describe a maternity-focused general hospital of about 250 staff (the
``small`` preset, used by the demo); ``large`` is the same hospital six times bigger
(1,500 staff, about 300,000 HIS events a day), used by the benchmarks.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulator.departments import DEPARTMENTS

#: Every incident kind, the demo's four first (kept in step with ``patterns.ALL_KINDS``,
#: which the tests check; spelled out here so that the spec imports no generator).
INCIDENT_KINDS: tuple[str, ...] = (
    "bulk_harvest", "scripted_scraper", "bulk_export", "brute_force",
    "slow_harvest", "maternity_bulk_nonclinical", "off_shift_access",
    "flagged_patient_no_care", "terminated_account", "vendor_patient_data",
    "sequential_enumeration", "workstation_hop", "own_record", "failed_then_success",
    "external_login",
)

#: The incidents with traffic in the network capture (:mod:`.netincidents`), planned
#: after the HIS kinds with a stream of their own, and only when a capture is written.
NETWORK_INCIDENT_KINDS: tuple[str, ...] = (
    "net_exfil_upload", "dns_tunnel", "beaconing", "lookup_then_upload",
)

ROLES: tuple[str, ...] = (
    "doctor", "nurse", "midwife", "lab_tech", "radiographer", "pharmacist",
    "billing_clerk", "receptionist", "it_admin", "vendor",
)


def _small_staff() -> dict[str, dict[str, int]]:
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


class HospitalSpec(BaseModel):
    """A hospital to simulate. Counts are per day; ``activity`` scales how busy staff are.

    ``activity`` multiplies every user's rate of patient tasks, but the minimum gap
    between tasks is fixed, so the normal-traffic bounds documented in
    :mod:`simulator` hold for any value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    organization_id: str = "bv-demo"
    name: str = "Bệnh viện Đa khoa Phụ sản Demo"
    timezone: str = "Asia/Ho_Chi_Minh"
    #: department code → role → number of accounts
    staff: dict[str, dict[str, int]] = Field(default_factory=_small_staff)
    #: outpatient visits on a weekday (half on Saturday, none on Sunday)
    outpatients_per_day: int = Field(default=260, ge=0)
    emergency_per_day: int = Field(default=60, ge=0)
    births_per_day: int = Field(default=24, ge=0)
    medical_admissions_per_day: int = Field(default=8, ge=0)
    #: days of encounters before the first simulated day (care relationships, recent mothers)
    history_days: int = Field(default=30, ge=1, le=365)
    activity: float = Field(default=1.0, gt=0, le=3)
    #: staff who move to another department in the middle of the period
    department_changes: int = Field(default=3, ge=0)
    #: accounts of staff who have left (inactive, with an end date)
    departed_staff: int = Field(default=4, ge=0)
    flagged_patient_share: float = Field(default=0.01, ge=0, le=0.2)
    #: share of logins preceded by one or two mistyped passwords
    typo_rate: float = Field(default=0.04, ge=0, le=0.5)
    #: each round injects one incident of every kind
    incident_rounds: int = Field(default=1, ge=0, le=20)
    #: which kinds to inject (``simulator.patterns.ALL_KINDS``); ``None``: all
    incident_kinds: tuple[str, ...] | None = None
    #: which network kinds to inject (:data:`NETWORK_INCIDENT_KINDS`); ``None``: all
    network_incident_kinds: tuple[str, ...] | None = None

    @field_validator("incident_kinds")
    @classmethod
    def _known_kinds(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None:
            for k in v:
                if k not in INCIDENT_KINDS:
                    raise ValueError(f"unknown incident kind {k!r}; known: {INCIDENT_KINDS}")
        return v

    @field_validator("network_incident_kinds")
    @classmethod
    def _known_network_kinds(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for k in v or ():
            if k not in NETWORK_INCIDENT_KINDS:
                raise ValueError(f"unknown network incident kind {k!r}; known: "
                                 f"{NETWORK_INCIDENT_KINDS}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @field_validator("staff")
    @classmethod
    def _known_staff(cls, v: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for dept, roles in v.items():
            if dept not in DEPARTMENTS:
                raise ValueError(f"unknown department {dept!r}; known: {sorted(DEPARTMENTS)}")
            for role, n in roles.items():
                if role not in ROLES:
                    raise ValueError(f"unknown role {role!r} in {dept}; known: {ROLES}")
                if not 0 <= n <= 700:
                    raise ValueError(f"{dept}/{role}: staff count {n} outside 0..700")
        return v

    @property
    def staff_count(self) -> int:
        return sum(n for roles in self.staff.values() for n in roles.values())

    def scaled(self, factor: int) -> HospitalSpec:
        """The same hospital ``factor`` times bigger: staff and patient flow."""
        return self.model_copy(
            update={
                "staff": {
                    d: {r: n * factor for r, n in roles.items()} for d, roles in self.staff.items()
                },
                "outpatients_per_day": self.outpatients_per_day * factor,
                "emergency_per_day": self.emergency_per_day * factor,
                "births_per_day": self.births_per_day * factor,
                "medical_admissions_per_day": self.medical_admissions_per_day * factor,
                "department_changes": self.department_changes * factor,
                "departed_staff": self.departed_staff * factor,
            }
        )

    @classmethod
    def small(cls) -> HospitalSpec:
        """The demo hospital: about 250 staff, 50–80 thousand events a day.

        It injects only the four HIS kinds the fixed-threshold packs catch, because
        ``phiwatch demo`` exits non-zero on any missed incident; add the context kinds
        (``incident_kinds=None``) once their rules ship. The network kinds are all in
        (they need the capture replayed with ``net/network.yaml``).
        """
        return cls(incident_kinds=INCIDENT_KINDS[:4])

    @classmethod
    def large(cls) -> HospitalSpec:
        """1,506 staff, about 300,000 events a day: the benchmark hospital.

        Six times the small one, plus thirty accounts of quieter staff (clinic and
        medicine nurses, reception, cashiers, IT) to pass 1,500, which issue 3 asks of
        the quality benchmark."""
        base = cls().scaled(6)
        extra = {("kham-benh", "nurse"): 8, ("noi", "nurse"): 6, ("tiep-nhan", "receptionist"): 6,
                 ("tai-chinh", "billing_clerk"): 4, ("cntt", "it_admin"): 6}
        staff = {d: dict(roles) for d, roles in base.staff.items()}
        for (dept, role), n in extra.items():
            staff[dept][role] += n
        return base.model_copy(
            update={
                "staff": staff,
                "organization_id": "bv-demo-lon",
                "name": "Bệnh viện Đa khoa Phụ sản Demo (cơ sở lớn)",
                "department_changes": 12,
                "departed_staff": 20,
                "activity": 0.7,
            }
        )
