"""What a department is to the simulator, and the workstations staff use in it.

A hospital profile (:mod:`simulator.profiles`) lists its departments with its own codes
and names; what the generators need of each is its :class:`Kind` (what its staff do with
patients) and a few facts: the building it stands in (walking between buildings takes
several minutes, so one account active in two buildings within a minute or two is a
shared or stolen password), its workstation subnet and host-name tag, which reception
desk registers its arrivals, whether the cashiers settle its stays at discharge.

The workstations' address plan belongs to the profile's network (:mod:`.netplan`); it is
stable, because the network simulator must produce flows from the same addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """What a department's staff do with patients; drives the traffic model."""

    EMERGENCY = "emergency"
    OUTPATIENT = "outpatient"
    WARD = "ward"
    LAB = "lab"
    RADIOLOGY = "radiology"
    PHARMACY = "pharmacy"
    BILLING = "billing"
    RECEPTION = "reception"
    IT = "it"
    PARTNER = "partner"


#: Departments whose staff care for admitted or visiting patients (own encounters).
CARE_KINDS = frozenset({Kind.EMERGENCY, Kind.OUTPATIENT, Kind.WARD})
#: Departments that serve every ward's patients without an encounter of their own.
SERVICE_KINDS = frozenset({Kind.LAB, Kind.RADIOLOGY, Kind.PHARMACY, Kind.BILLING,
                           Kind.RECEPTION})


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    tag: str
    subnet: int
    kind: Kind
    building: str
    #: the reception desk (a department code) that registers patients arriving here
    registered_by: str = ""
    #: whether the cashiers settle an encounter here when it ends
    billed: bool = False


MAX_WORKSTATIONS = 240


@dataclass(frozen=True, eq=False)
class Workstation:
    """A named host with a fixed address; ``department`` is ``"vpn"`` for remote sessions.

    Compared by identity: the log writer caches each one's JSON fragment in a dict.
    """

    name: str
    ip: str
    department: str


def __getattr__(name: str) -> Any:
    """``MATERNITY``: the default (maternity) profile's maternity departments, for
    callers from before profiles."""
    if name == "MATERNITY":
        from simulator.profiles import profile

        return profile("maternity").maternity
    raise AttributeError(name)
