"""``ContextConfig``: the ``context:`` section of the main configuration file.

Shape (every key optional)::

    context:
      roster: /etc/phiwatch/roster.csv            # staff roster
      flagged_patients: /etc/phiwatch/flagged_patients.csv
      encounters: /var/lib/his/encounters.csv     # care relationships
      internal_networks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
      maternity_departments: [khoa-3]             # beyond the built-in words (san, hau-san …)
      vocabulary:                                 # the hospital's words → phiwatch's classes
        roles: {cashier: desk, "kỹ thuật viên": service}
        departments: {khoa-3: care, "phòng 12": desk}
        department_names: {KXN: "Khoa Xét nghiệm"}  # codes classified by their names
      shift_tolerance_minutes: 30
      shifts: {"ca 1": "06:00-14:00"}            # extra or redefined shift names
      timezone: null                              # null: the main configuration's
      poll_interval_seconds: 0.5                  # re-check files without notifications

A file left out adds no fields to events (rather than, say, answering "no care
relationship" for every access), so rules that depend on it stay silent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensors.context.networks import RFC1918, parse_network
from sensors.context.shifts import ShiftBook
from sensors.context.vocabulary import DEPARTMENT_CLASSES, ROLE_CLASSES


class VocabularyConfig(BaseModel):
    """The hospital's own words for roles and departments, by phiwatch class
    (``sensors.context.vocabulary``). Words not listed are classified by built-in
    English and Vietnamese keywords; ``phiwatch context check`` lists those none match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Role word as written in the roster or the logs → one of ``ROLE_CLASSES``.
    roles: dict[str, str] = Field(default_factory=dict)
    #: Department word → one of ``DEPARTMENT_CLASSES``.
    departments: dict[str, str] = Field(default_factory=dict)
    #: Department code → its full name (``KXN: Khoa Xét nghiệm``): rosters and logs
    #: often give codes only; a code no keyword matches is classified by its name.
    department_names: dict[str, str] = Field(default_factory=dict)

    @field_validator("roles")
    @classmethod
    def _role_classes(cls, v: dict[str, str]) -> dict[str, str]:
        return _classes(v, ROLE_CLASSES)

    @field_validator("departments")
    @classmethod
    def _department_classes(cls, v: dict[str, str]) -> dict[str, str]:
        return _classes(v, DEPARTMENT_CLASSES)


def _classes(mapping: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    for word, cls in mapping.items():
        if cls not in known:
            raise ValueError(f"{word!r}: {cls!r} is not a class (expected one of "
                             f"{', '.join(known)})")
    return mapping


class ContextConfig(BaseModel):
    """Where the context files are and how events are read against them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roster: Path | None = None
    flagged_patients: Path | None = None
    #: ``host_name, ip, department, building``: where each workstation stands.
    workstations: Path | None = None
    #: ``patient_id, national_id`` (other columns ignored): staff opening their own record.
    patients: Path | None = None
    encounters: Path | None = None
    internal_networks: list[str] = list(RFC1918)
    #: Maternity, postpartum and neonatal departments, beyond those the built-in words
    #: recognise (``sản``, ``hậu sản``, ``sơ sinh``, obstetrics, postpartum, neonatal …).
    maternity_departments: list[str] = []
    vocabulary: VocabularyConfig = VocabularyConfig()
    shift_tolerance_minutes: Annotated[int, Field(ge=0, le=720)] = 30
    #: A care relationship starts this long before an encounter (registration, triage) …
    care_grace_before_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 180
    #: … and lasts this long after it ends (discharge papers, late results, follow-up).
    care_grace_after_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 72
    shifts: dict[str, str] = {}
    timezone: str | None = None
    poll_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5

    @field_validator("internal_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return [str(parse_network(n)) for n in v]

    @field_validator("maternity_departments")
    @classmethod
    def _departments(cls, v: list[str]) -> list[str]:
        return [d.strip().lower() for d in v if d.strip()]

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, v: dict[str, str]) -> dict[str, str]:
        ShiftBook(v)  # raises ValueError naming the bad window
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as "
                                 "'Asia/Ho_Chi_Minh')") from None
        return v

    def rebased(self, base: Path) -> ContextConfig:
        """This configuration with relative file paths taken relative to ``base`` (the
        folder of the configuration file)."""
        update = {
            name: base / value
            for name in ("roster", "flagged_patients", "encounters", "workstations", "patients")
            if (value := getattr(self, name)) is not None and not value.is_absolute()
        }
        return self.model_copy(update=update)

    def files(self) -> dict[str, Path]:
        """The configured files by kind (``roster``, ``flagged_patients``, ``encounters``,
        ``workstations``)."""
        return {
            name: value
            for name in ("roster", "flagged_patients", "encounters", "workstations", "patients")
            if (value := getattr(self, name)) is not None
        }
