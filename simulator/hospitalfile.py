"""``hospital.yaml``: what the simulated hospital's IT team knows and would tell phiwatch.

Why a file of its own: a real hospital's roster says ``ca 2`` or ``trực 24h``, not hours,
and nothing in its logs says which wards are maternity wards; the people who configure
phiwatch know both. The quality bench reads the shift hours and the maternity
departments from here, as that team would copy them into phiwatch's configuration —
and nothing about which role or department words mean what, which the rules must cope
with by themselves.

Keys: ``organization`` (id, name, time zone), ``profile``, ``shifts`` (roster shift
word → local hours, ``HH:MM-HH:MM``, several joined by ``+``), ``departments`` (code →
name and building), ``maternity_departments`` (antenatal, labour, postpartum and
neonatal care), ``postpartum_departments``, ``neonatal_departments``,
``antenatal_departments``, ``service_departments`` (laboratory, imaging, pharmacy,
cashiers, reception: they serve every ward's patients without an encounter of their
own) and ``networks`` (the hospital's own ranges, as ``networks.csv``).
"""

from __future__ import annotations

from typing import Any

import yaml

from simulator.profile import Profile
from simulator.spec import HospitalSpec


def hospital_doc(spec: HospitalSpec, profile: Profile) -> dict[str, Any]:
    """The content of ``hospital.yaml``."""
    return {
        "organization": {"id": spec.organization_id, "name": spec.name,
                         "timezone": spec.timezone},
        "profile": profile.name,
        "shifts": {w: profile.shift_hours(w) for w in profile.shifts},
        "departments": {code: {"name": d.name, "building": d.building}
                        for code, d in profile.departments.items()},
        "maternity_departments": list(profile.maternity),
        "postpartum_departments": list(profile.postpartum),
        "neonatal_departments": list(profile.neonatal),
        "antenatal_departments": list(profile.antenatal),
        "service_departments": list(profile.services),
        "networks": [{"cidr": c, "name": n} for c, n in profile.site.networks],
    }


def hospital_yaml(spec: HospitalSpec, profile: Profile) -> str:
    head = ("# What this hospital's IT team knows (written by `phiwatch simulate`): the hours\n"
            "# of each roster shift word, which departments care for mothers and newborns,\n"
            "# which serve every ward, and the hospital's own networks.\n")
    return head + yaml.safe_dump(hospital_doc(spec, profile), sort_keys=False,
                                 allow_unicode=True)
