"""Hospital simulator: realistic, deterministic HIS access logs with labelled leaks.

(bounds documented below once measured)
"""

from sensors.simulator.simulate import DEFAULT_START, SimulationResult, simulate
from sensors.simulator.spec import HospitalSpec

__all__ = ["DEFAULT_START", "HospitalSpec", "SimulationResult", "simulate"]
