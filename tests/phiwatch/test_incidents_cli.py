"""Incidents as an analyst meets them: grouped by replay, listed, shown, moved, conflicts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from runkit import hospital_lines

pytestmark = pytest.mark.timeout(300)


def phiwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phiwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_replay_groups_incidents_and_analysts_move_them(tmp_path: Path) -> None:
    (tmp_path / "access.log").write_bytes(b"".join(hospital_lines(20_000)))
    assert phiwatch("replay", "--no-progress", "access.log", cwd=tmp_path).returncode == 0
    listed = phiwatch("incidents", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.strip()]
    by_user = {r[3]: r[0] for r in rows if len(r) > 3 and r[1] == "new"}
    # the harvester's two alerts (bulk lookup) and the scraper's (machine speed + bulk)
    assert {"nv00066", "nv00077", "nv00088", "nv00099"} <= set(by_user)
    incident = by_user["nv00077"]

    shown = phiwatch("incidents", "show", incident, cwd=tmp_path)
    assert shown.returncode == 0 and "phiwatch-his-machine-speed-viewing" in shown.stdout
    version = re.search(r"\(version (\d+);", shown.stdout)
    assert version is not None
    seen = version.group(1)  # two analysts both read this version

    first = phiwatch("incidents", "status", incident, "investigating", "--actor", "lan.it",
                     "--expected-version", seen, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    stale = phiwatch("incidents", "status", incident, "false_positive", "--actor", "binh.it",
                     "--note", "test account", "--expected-version", seen, cwd=tmp_path)
    assert stale.returncode == 1 and "version" in stale.stderr.lower()
    skip = phiwatch("incidents", "status", incident, "reported", "--actor", "lan.it",
                    "--note", "sent", cwd=tmp_path)
    assert skip.returncode == 1  # reported only after confirmed_leak
    confirm = phiwatch("incidents", "status", incident, "confirmed_leak", "--actor", "lan.it",
                       "--note", "scraper confirmed from the VPN logs", cwd=tmp_path)
    assert confirm.returncode == 0, confirm.stderr
    history = phiwatch("incidents", "show", incident, cwd=tmp_path).stdout
    assert "investigating" in history and "confirmed_leak" in history and "lan.it" in history

    again = phiwatch("replay", "--no-progress", "access.log", cwd=tmp_path)
    assert again.returncode == 0
    relisted = phiwatch("incidents", "list", cwd=tmp_path).stdout
    assert len(relisted.splitlines()) == len(listed.stdout.splitlines())  # nothing doubled
    assert "confirmed_leak" in relisted  # a replay leaves analysts' decisions alone
