"""`phiwatch demo`: every injected HIS and network incident found, nothing else raised."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from alerting.reports.signing import verify_report
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
    assert "Patient records harvested, then data sent out from the same workstation" in text
    # The ending: the worst leak confirmed, reported, written out — and nothing sent.
    assert "confirmed by demo.it" in text and "not sent" in text
    written = sorted((tmp_path / "reports").iterdir())
    assert [p.suffix for p in written] == [".docx", ".jws", ".pdf"] * 2
    assert all(str(p) in text.replace("\n", "") or p.name in text for p in written)
    jws = next(p for p in written if p.name.startswith("bao-cao") and p.suffix == ".jws")
    report = verify_report(jws.read_bytes(),
                           {"bv-demo": (tmp_path / "var" / "reports" / "bv-demo.pub.pem"
                                        ).read_bytes()},
                           documents={"pdf": jws.with_suffix(".pdf").read_bytes(),
                                      "docx": jws.with_suffix(".docx").read_bytes()})
    assert report.number_text == "1/BC-BVPSM" and not report.late
    assert report.facts.counts_basis == "evidence" and report.facts.patients_count > 100


def test_explanations_never_lie(tmp_path: Path) -> None:
    """No sentence says ``(?)``, ``True`` or ``None``; the workstation hop names both
    workstations and both buildings."""
    from alerting.sqlite_store import SQLiteAlertStore
    from alerting.store import AlertQuery

    run_demo(tmp_path, days=1, seed=7, console=Console(file=io.StringIO(), width=200))
    store = SQLiteAlertStore(tmp_path / "var" / "alerts.db")
    alerts = store.query(AlertQuery(limit=10_000))
    store.close()
    for a in alerts:
        assert not re.search(r"\(\?\)|\bTrue\b|\bFalse\b|\bNone\b| \? ", a.explanation), (
            a.rule_id, a.explanation)
    [hop] = [a for a in alerts if a.rule_id == "phiwatch-his-impossible-workstation-hop"][:1]
    places = re.findall(r"(\S+) \((WS-[^)]+)\)", hop.explanation)
    assert len({b for b, _ in places}) >= 2 and len({w for _, w in places}) >= 2, \
        hop.explanation
