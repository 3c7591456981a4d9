"""What hospital to simulate: its profile, size, staff per department and role, patient
flow, knobs.

The default profile is the maternity hospital (:mod:`simulator.profiles.maternity`):
about 250 staff in the ``small`` preset, used by the demo; ``large`` is the same hospital
six times bigger (1,500 staff, about 300,000 HIS events a day). The ``general`` profile
(:mod:`simulator.profiles.general`) is another hospital altogether, with its own words.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.profiles import PROFILE_NAMES, profile
from simulator.profiles.maternity import LARGE_EXTRA, small_staff

#: Every incident kind, the demo's four first (kept in step with ``patterns.ALL_KINDS``,
#: which the tests check; spelled out here so that the spec imports no generator).
INCIDENT_KINDS: tuple[str, ...] = (
    "bulk_harvest", "scripted_scraper", "bulk_export", "brute_force",
    "slow_harvest", "maternity_bulk_nonclinical", "off_shift_access",
    "flagged_patient_no_care", "terminated_account", "vendor_patient_data",
    "sequential_enumeration", "workstation_hop", "own_record", "failed_then_success",
    "external_login",
)

#: The incidents with traffic in the network capture (:mod:`.netincidents`,
#: :mod:`.wardharvest`), planned after the HIS kinds with a stream of their own, and only
#: when a capture is written.
NETWORK_INCIDENT_KINDS: tuple[str, ...] = (
    "net_exfil_upload", "dns_tunnel", "beaconing", "lookup_then_upload",
    "ward_harvest_upload",
)


class HospitalSpec(BaseModel):
    """A hospital to simulate. Counts are per day; ``activity`` scales how busy staff are.

    ``activity`` multiplies every user's rate of patient tasks, but the minimum gap
    between tasks is fixed, so the normal-traffic bounds documented in
    :mod:`simulator` hold for any value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: which hospital (:data:`simulator.profiles.PROFILE_NAMES`): its words, departments,
    #: rotas and habits; ``staff`` is in its vocabulary
    profile: str = "maternity"
    organization_id: str = "bv-demo"
    name: str = "Bệnh viện Đa khoa Phụ sản Demo"
    timezone: str = "Asia/Ho_Chi_Minh"
    #: department code → role → number of accounts
    staff: dict[str, dict[str, int]] = Field(default_factory=small_staff)
    #: outpatient visits on a weekday (half on Saturday, none on Sunday)
    outpatients_per_day: int = Field(default=260, ge=0)
    emergency_per_day: int = Field(default=60, ge=0)
    births_per_day: int = Field(default=24, ge=0)
    medical_admissions_per_day: int = Field(default=8, ge=0)
    #: the general profile's other flows (the maternity hospital has none of these)
    antenatal_per_day: int = Field(default=0, ge=0)
    surgical_admissions_per_day: int = Field(default=0, ge=0)
    paediatric_admissions_per_day: int = Field(default=0, ge=0)
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

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        if v not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {v!r}; known: {PROFILE_NAMES}")
        return v

    @model_validator(mode="after")
    def _known_staff(self) -> HospitalSpec:
        prof = profile(self.profile)
        for dept, roles in self.staff.items():
            if dept not in prof.departments:
                raise ValueError(f"staff: unknown department {dept!r}; known: "
                                 f"{sorted(prof.departments)}")
            for role, n in roles.items():
                if role not in prof.roles:
                    raise ValueError(f"staff: unknown role {role!r} in {dept}; known: "
                                     f"{tuple(prof.roles)}")
                if not 0 <= n <= 700:
                    raise ValueError(f"staff: {dept}/{role}: staff count {n} outside 0..700")
        return self

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
                "antenatal_per_day": self.antenatal_per_day * factor,
                "surgical_admissions_per_day": self.surgical_admissions_per_day * factor,
                "paediatric_admissions_per_day": self.paediatric_admissions_per_day * factor,
                "department_changes": self.department_changes * factor,
                "departed_staff": self.departed_staff * factor,
            }
        )

    @classmethod
    def preset(cls, size: str, profile_name: str = "maternity") -> HospitalSpec:
        """``small`` or ``large`` of a profile."""
        if size not in ("small", "large"):
            raise ValueError(f"unknown preset {size!r}; known: small, large")
        return cls.small(profile_name) if size == "small" else cls.large(profile_name)

    @classmethod
    def small(cls, profile_name: str = "maternity") -> HospitalSpec:
        """The demo hospital: about 250 staff, 50–80 thousand events a day.

        It injects only the four HIS kinds the fixed-threshold packs catch, because
        ``phiwatch demo`` exits non-zero on any missed incident; add the context kinds
        (``incident_kinds=None``) once their rules ship. The network kinds are in but for
        the multi-day ``ward_harvest_upload`` (they need the capture replayed with
        ``net/network.yaml``).

        ``small("general")``: the general hospital's small preset (about 200 staff), with
        every kind."""
        if profile_name != "maternity":
            return cls.model_validate(_profile_preset(profile_name, "small"))
        return cls(incident_kinds=INCIDENT_KINDS[:4],
                   network_incident_kinds=NETWORK_INCIDENT_KINDS[:4])

    @classmethod
    def large(cls, profile_name: str = "maternity") -> HospitalSpec:
        """1,506 staff, about 300,000 events a day: the benchmark hospital.

        Six times the small one, plus thirty accounts of quieter staff (clinic and
        medicine nurses, reception, cashiers, IT) to pass 1,500, which issue 3 asks of
        the quality benchmark. ``large("general")``: the general hospital's benchmark
        preset (about 700 staff)."""
        if profile_name != "maternity":
            return cls.model_validate(_profile_preset(profile_name, "large"))
        base = cls().scaled(6)
        staff = {d: dict(roles) for d, roles in base.staff.items()}
        for (dept, role), n in LARGE_EXTRA.items():
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


def _profile_preset(name: str, size: str) -> dict[str, Any]:
    from simulator.profiles import presets

    return {"profile": name, **presets(name)[size]}
