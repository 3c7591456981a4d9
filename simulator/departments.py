"""The simulated hospital's departments and its workstation address plan.

Address plan (stable: the network simulator must produce flows from the same addresses):

- Department workstation ``n`` (1-based) is ``WS-<TAG>-<nn>`` at ``10.20.<subnet>.<10+n>``,
  with ``<TAG>`` and ``<subnet>`` from :data:`DEPARTMENTS` (``san-a`` → ``WS-SAN-A-03`` at
  ``10.20.21.13``). At most 240 workstations per department.
- Remote (VPN) sessions, used by the HIS vendor's support staff, are ``VPN-<nn>`` at
  ``10.250.0.<10+n>``.

``workstations.csv`` in the output folder lists every internal address the simulation used,
with the building it stands in (:data:`BUILDINGS`): walking between buildings takes
several minutes, so one account active in two buildings within a minute or two is a
shared or stolen password. ``networks.csv`` lists the hospital's own address ranges
(:data:`NETWORKS`); anything else is outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    tag: str
    subnet: int
    kind: Kind


DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        Department("cap-cuu", "Khoa Cấp cứu", "CC", 11, Kind.EMERGENCY),
        Department("kham-benh", "Khoa Khám bệnh", "KB", 12, Kind.OUTPATIENT),
        Department("san-a", "Khoa Sản A", "SAN-A", 21, Kind.WARD),
        Department("san-b", "Khoa Sản B", "SAN-B", 22, Kind.WARD),
        Department("hau-san", "Khoa Hậu sản", "HAU-SAN", 23, Kind.WARD),
        Department("so-sinh", "Khoa Sơ sinh", "SO-SINH", 24, Kind.WARD),
        Department("noi", "Khoa Nội tổng hợp", "NOI", 31, Kind.WARD),
        Department("xet-nghiem", "Khoa Xét nghiệm", "XN", 41, Kind.LAB),
        Department("chan-doan-hinh-anh", "Khoa Chẩn đoán hình ảnh", "CDHA", 42, Kind.RADIOLOGY),
        Department("duoc", "Khoa Dược", "DUOC", 43, Kind.PHARMACY),
        Department("tai-chinh", "Phòng Tài chính kế toán (viện phí)", "VP", 51, Kind.BILLING),
        Department("tiep-nhan", "Bộ phận Tiếp nhận", "TN", 52, Kind.RECEPTION),
        Department("cntt", "Phòng Công nghệ thông tin", "CNTT", 61, Kind.IT),
        Department("doi-tac", "Đối tác, nhà thầu, nhà tài trợ", "DT", 90, Kind.PARTNER),
    )
}

#: Departments whose staff care for admitted or visiting patients (own encounters).
CLINICAL: tuple[str, ...] = ("cap-cuu", "kham-benh", "san-a", "san-b", "hau-san", "so-sinh", "noi")
#: Maternity departments: the patients the 2024 leak was about.
MATERNITY: tuple[str, ...] = ("san-a", "san-b", "hau-san", "so-sinh")

MAX_WORKSTATIONS = 240

#: Department → building: A (entrance: emergency, clinic, reception, cashiers), B
#: (maternity), C (internal medicine), D (laboratory, imaging, pharmacy), E (offices).
BUILDINGS: dict[str, str] = {
    "cap-cuu": "A", "kham-benh": "A", "tiep-nhan": "A", "tai-chinh": "A",
    "san-a": "B", "san-b": "B", "hau-san": "B", "so-sinh": "B", "noi": "C",
    "xet-nghiem": "D", "chan-doan-hinh-anh": "D", "duoc": "D", "cntt": "E", "doi-tac": "E",
    "vpn": "remote",
}

#: The hospital's own networks: (CIDR, name).
NETWORKS: tuple[tuple[str, str], ...] = (
    ("10.20.0.0/16", "workstations"), ("10.250.0.0/24", "vpn"),
)


@dataclass(frozen=True, eq=False)
class Workstation:
    """A named host with a fixed address; ``department`` is ``"vpn"`` for remote sessions.

    Compared by identity: the log writer caches each one's JSON fragment in a dict.
    """

    name: str
    ip: str
    department: str


def workstation(department: str, n: int) -> Workstation:
    """Workstation ``n`` (1-based) of ``department`` under the documented address plan."""
    if not 1 <= n <= MAX_WORKSTATIONS:
        raise ValueError(f"workstation number {n} outside 1..{MAX_WORKSTATIONS}")
    dept = DEPARTMENTS[department]
    return Workstation(f"WS-{dept.tag}-{n:02d}", f"10.20.{dept.subnet}.{10 + n}", department)


def vpn_endpoint(n: int) -> Workstation:
    """Remote-access address ``n`` (1-based) in the VPN pool."""
    if not 1 <= n <= MAX_WORKSTATIONS:
        raise ValueError(f"VPN address number {n} outside 1..{MAX_WORKSTATIONS}")
    return Workstation(f"VPN-{n:02d}", f"10.250.0.{10 + n}", "vpn")
