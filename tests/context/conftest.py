"""Fixtures for the context tests: real CSV files in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sensors.context import Context, ContextConfig, Enricher

ROSTER = """\
user_id,full_name,role,department,status,end_date,shift,vendor
nv001,Nguyễn Thị Lan,nurse,san-a,active,,day,
nv002,Trần Văn Bình,doctor,cap-cuu,active,,night,
nv003,Lê Thị Hồng,midwife,hau-san,active,,oncall24,
nv004,Phạm Minh Tuấn,receptionist,tiep-nhan,inactive,2026-11-20,day,
nv005,Võ Thị Mai,nurse,san-b,inactive,2026-11-20,night,
nv006,Đỗ Văn Hùng,nurse,noi,disabled,,day,
dt001,Hoàng Văn Nam,vendor,doi-tac,active,2026-11-30,day,Công ty Sao Mai
nv007,Bùi Thị Thu,billing_clerk;receptionist,tai-chinh,,,evening,
nv008,Ngô Văn Khoa,it_admin,cntt,active,,,yes
"""

FLAGGED = """\
patient_id,reason
BN001,public_figure
BN001,staff_member
BN002,protection_order
"""

ENCOUNTERS = """\
patient_id,department,start,end
BN001,san-a,2026-11-21T08:00:00+07:00,2026-11-23T12:00:00+07:00
BN002,cap-cuu,2026-11-22T01:00:00,2026-11-22T05:00:00
BN003,noi,2026-11-22T00:00:00+07:00,
BN004,so-sinh,2026-10-01T00:00:00+07:00,2026-10-05T00:00:00+07:00
BN005,kham-benh,2026-11-22T09:00:00+07:00,2026-11-22T10:00:00+07:00
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("roster", ROSTER), ("flagged_patients", FLAGGED),
                       ("encounters", ENCOUNTERS)):
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


@pytest.fixture
def make_enricher(files: dict[str, Path]) -> Callable[..., Enricher]:
    def make(**overrides: object) -> Enricher:
        settings: dict[str, object] = {**files, **overrides}
        context = Context(ContextConfig.model_validate(settings))
        context.load_all()
        return Enricher(context)

    return make


@pytest.fixture
def enricher(make_enricher: Callable[..., Enricher]) -> Enricher:
    return make_enricher()
