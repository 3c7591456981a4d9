"""Simulations shared by the simulator tests (each preset run once per session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from simkit import Line, read_all

from simulator import HospitalSpec, SimulationResult, simulate


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The demo hospital, one weekday."""
    return simulate(HospitalSpec.small(), tmp_path_factory.mktemp("small"), days=1, seed=7)


@pytest.fixture(scope="session")
def small_lines(small: SimulationResult) -> list[Line]:
    return read_all(small.out_dir)


@pytest.fixture(scope="session")
def small_week(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The demo hospital over four days: incidents spread out, transfers, departures."""
    return simulate(HospitalSpec.small(), tmp_path_factory.mktemp("small4"), days=4, seed=11)


@pytest.fixture(scope="session")
def large(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The benchmark hospital, one weekday."""
    return simulate(HospitalSpec.large(), tmp_path_factory.mktemp("large"), days=1, seed=3)


@pytest.fixture(scope="session")
def small_all(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The demo hospital over two days with every incident kind, the context ones too."""
    spec = HospitalSpec.small().model_copy(update={"incident_kinds": None})
    return simulate(spec, tmp_path_factory.mktemp("small-all"), days=2, seed=7)


@pytest.fixture(scope="session")
def small_all_lines(small_all: SimulationResult) -> list[Line]:
    return read_all(small_all.out_dir)


@pytest.fixture(scope="session")
def general(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The general hospital's small preset over two weekdays, every kind."""
    return simulate(HospitalSpec.small("general"), tmp_path_factory.mktemp("general"), days=2,
                    seed=7)


@pytest.fixture(scope="session")
def general_lines(general: SimulationResult) -> list[Line]:
    return read_all(general.out_dir)
