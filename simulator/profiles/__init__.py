"""The hospitals the simulator knows, by name.

- ``maternity`` (the default): :mod:`.maternity`, a maternity-focused hospital with
  English role words and ``day``/``evening``/``night``/``oncall24`` shifts;
- ``general``: :mod:`.general`, a general hospital with Vietnamese titles, department
  abbreviations, ``hành chính``/``ca 1``–``ca 3``/``trực 24h``/``xoay ca`` rotas, an
  antenatal clinic and staff who work in two departments.

Each module holds its :class:`~simulator.profile.Profile` (``PROFILE``) and its presets'
numbers; nothing else in the simulator names a role, department or shift word.
"""

from __future__ import annotations

from typing import Any

from simulator.profile import Profile

PROFILE_NAMES: tuple[str, ...] = ("maternity", "general")


def profile(name: str) -> Profile:
    """The profile called ``name``."""
    if name == "maternity":
        from simulator.profiles.maternity import PROFILE
        return PROFILE
    if name == "general":
        from simulator.profiles.general import PROFILE as GENERAL
        return GENERAL
    raise ValueError(f"unknown profile {name!r}; known: {PROFILE_NAMES}")


def presets(name: str) -> dict[str, dict[str, Any]]:
    """``HospitalSpec`` fields of a non-default profile's ``small`` and ``large`` presets
    (the maternity ones are ``HospitalSpec``'s own defaults)."""
    if name == "general":
        from simulator.profiles.general import PRESETS
        return PRESETS
    raise ValueError(f"profile {name!r} has no presets of its own")
