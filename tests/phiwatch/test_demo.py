"""`phiwatch demo`: every injected HIS and network incident found, nothing else raised."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from phiwatch.demo import DEMO_KINDS, run_demo


def test_the_demo_finds_every_injected_incident_and_nothing_else(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(tmp_path, days=1, seed=7, console=Console(file=out, width=200))
    text = out.getvalue()
    assert code == 0, text
    found = re.search(r"(\d+)/(\d+) injected incidents found; (\d+) alert\(s\) not tied", text)
    assert found is not None, text
    assert found[1] == found[2] and int(found[2]) >= len(DEMO_KINDS)
    assert found[3] == "0"
    assert "Bulk patient lookup, then a large upload from the same workstation" in text
