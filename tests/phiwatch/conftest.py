"""Fixtures for the end-to-end tests (the kit itself is in tests/support/runkit.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from runkit import RunningPhiwatch


@pytest.fixture
def start_run() -> Iterator[Callable[[Path], RunningPhiwatch]]:
    started: list[RunningPhiwatch] = []

    def start(config: Path) -> RunningPhiwatch:
        # stderr to a file, not a pipe: an unread pipe would block phiwatch once full.
        with open(config.with_suffix(".stderr"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "phiwatch", "run", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        state = config.parent / yaml.safe_load(config.read_text())["state_dir"]
        r = RunningPhiwatch(proc, state)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
