"""Strings from logs are data: markup, scripts, control and bidi characters, huge names."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

from docx import Document

from alerting.incident import transition
from alerting.reports import sample
from alerting.reports.docx_writer import render_docx
from alerting.reports.facts import EvidenceRecord, facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.pdf_writer import render_pdf
from alerting.reports.profile import HospitalProfile
from alerting.reports.pseudonym import HmacPseudonymizer
from alerting.reports.report import department_report
from alerting.reports.safe_text import NAME_LIMIT, clean

HOSTILE_NAME = "<font size=80>Kẻ</font> &amp; <script>alert(1)</script>\x00\x1b[31m\u202eabc"
HUGE = "Ư" * 10_000


def test_clean_escapes_and_bounds() -> None:
    assert clean("a\x00b\x1bc") == "a\\x00b\\x1bc"
    assert clean("x\u202ey") == "x\\u202ey"
    assert clean("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert clean("line\nbreak") == "line\\x0abreak"
    assert clean("e\u0302\u0301") == "ế"  # decomposed → precomposed (NFC)
    assert len(clean(HUGE, limit=NAME_LIMIT)) == NAME_LIMIT
    assert clean(clean(HOSTILE_NAME)) == clean(HOSTILE_NAME)


def _hostile_facts(case: sample.SampleCase, hospital: HospitalProfile) -> ReportFacts:
    a0 = case.alerts[0]
    ctx = {**a0.context, "user.name": HOSTILE_NAME, "host.name": HUGE,
           "user.department": "<b>bold</b>"}
    alerts = [replace(a0, context=ctx, explanation=HOSTILE_NAME + " " + "x" * 5000),
              *case.alerts[1:]]
    inc = case.incident.with_alert(replace(alerts[0], revision=2)) or case.incident
    inc = transition(inc, "reported", "<img src=x onerror=alert(1)>",
                     "note \u202e with RTL override and \x07 bell", sample.local(2026, 12, 6, 8))
    evidence = [*case.evidence[:5],
                EvidenceRecord(timestamp=sample.local(2026, 12, 4, 15), patient_id="BN\x00<x>",
                               user_id="nv04512", user_name=HUGE, host="<svg/onload=1>")]
    return facts_from_incident(inc, alerts, hospital, now=sample.local(2026, 12, 7, 9),
                               pseudonymize=HmacPseudonymizer(sample.SAMPLE_KEY, hospital.id),
                               evidence=evidence)


def test_hostile_strings_render_as_text(case: sample.SampleCase, hospital: HospitalProfile,
                                        pdf_text: Callable[[bytes], str]) -> None:
    facts = _hostile_facts(case, hospital)
    assert all(len(a.name) <= NAME_LIMIT for a in facts.accounts)
    doc = department_report(facts, hospital, number=3, issued_at=sample.local(2026, 12, 7, 10))
    text = pdf_text(render_pdf(doc))
    flat = " ".join(text.split())
    assert "<script>alert(1)</script>" in flat        # printed, not interpreted
    assert "<font size=80>Kẻ</font> &amp;" in flat
    assert "\\x00\\x1b[31m\\u202eabc" in flat          # controls shown escaped
    assert "\u202e" not in text and "\x1b" not in text
    assert "<svg/onload=1>" in flat
    d = Document(io.BytesIO(render_docx(doc)))
    body = "\n".join(p.text for p in d.paragraphs)
    body += "\n".join(c.text for t in d.tables for r in t.rows for c in r.cells)
    assert "<script>alert(1)</script>" in body and "\\u202e" in body
    assert "\u202e" not in body and "\x00" not in body
    assert "<img src=x onerror=alert(1)>" in body
    assert "Ư" * 300 not in body                         # 10 kB name cut to 200
