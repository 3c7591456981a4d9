"""The soak bench (``bench/soak.py``) in miniature: half a minute of the small simulated
hospital at its own busiest-hour rate, through a real ``phiwatch run`` and a real remote
``phiwatch sensor``, with both logs rotated and no kill. It must end with every verdict
holding and the exact HIS accounting line printed, so the 30-minute soak does not rot
between the times someone runs it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "bench" / "soak.py"
#: Simulating the small hospital's day takes ~15 s here; past this, skip instead.
SIMULATE_BUDGET = 60.0


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _small_hospital() -> None:
    """The simulated small hospital, cached as the benches cache it; skip when building
    the cache takes longer than the budget (a very slow or loaded machine)."""
    quality = _bench("detection_quality")
    folder = quality.CACHE / f"quality-maternity-small-1d-seed1-{quality.simulator_digest()}"
    if (folder / "ground_truth.json").exists():
        return
    start = time.monotonic()
    try:
        subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, sys.argv[1]); import detection_quality"
                        " as q; q.simulated('maternity', 'small', 1, 1)", str(ROOT / "bench")],
                       check=True, capture_output=True, timeout=SIMULATE_BUDGET)
    except subprocess.TimeoutExpired:
        pytest.skip(f"simulating the small hospital for the soak smoke run took more than "
                    f"{SIMULATE_BUDGET:.0f} s (the cache {folder} is not built); run "
                    f"`bench/soak.py --preset small --minutes 0.5` once to build it")
    assert time.monotonic() - start < SIMULATE_BUDGET


@pytest.mark.timeout(180)
def test_half_a_minute_of_soak_holds(tmp_path: Path) -> None:
    _small_hospital()
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "0.5", "--multiplier", "1", "--no-restarts",
         "--preset", "small", "--folder", str(tmp_path / "soak"), "--settle", "3",
         "--every", "10"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    took = time.monotonic() - start
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "HIS fed at " in out and "× the busiest hour of the simulated small" in out
    accounting = [line for line in out.splitlines() if line.startswith("HIS accounting:")]
    assert len(accounting) == 1 and ": exact;" in accounting[0], out
    assert "0 doubled" in accounting[0]
    assert "FAILS" not in out
    assert took < 90, f"the smoke run took {took:.0f} s"
