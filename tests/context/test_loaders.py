"""Strict loading: bad rows skipped with file:line and column, bad files rejected whole,
the encounter index, the shift vocabulary and the configuration model."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sensors.context import (
    ContextConfig,
    FileRejected,
    ShiftBook,
    load_encounters,
    load_flagged,
    load_roster,
)
from sensors.context.localtime import ZoneOffsets

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
HEADER = "user_id,full_name,role,department,status,end_date,shift,vendor\n"


def roster(path: Path, text: str) -> tuple[int, int, list[str]]:
    path.write_text(text, encoding="utf-8")
    r = load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    assert r.report is not None
    return len(r), r.report.bad_rows, r.report.problems


def test_bad_rows_skipped_and_reported_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    n, bad, problems = roster(path, HEADER + (
        "nv1,A,nurse,san-a,active,,day,\n"
        "nv2,B,nurse,san-a,active,2026-13-01,day,\n"
        "nv3,C,nurse,san-a,active,,dy,\n"
        "nv4,D,nurse,san-a,sleeping,,day,\n"
        "nv1,E,nurse,san-a,active,,day,\n"
        ",F,nurse,san-a,active,,day,\n"
        "nv5,G\n"
        "nv6,H,,san-a,active,,day,\n"
        + "".join(f"u{i},X,nurse,noi,active,,day,\n" for i in range(60))
    ))
    # A bad date, shift word or status costs that field only; the row is used.
    assert n == 65 and bad == 3
    assert problems[0].startswith(f"{path}:6: column 1 'user_id': duplicate account 'nv1'")
    assert problems[1].startswith(f"{path}:7: column 1 'user_id': empty")
    assert problems[2].startswith(f"{path}:8: 2 values, expected at least 8")
    r = load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    assert r.report is not None
    assert r.report.unknown == {"end_date": {"2026-13-01": 1}, "shift": {"dy": 1},
                                "status": {"sleeping": 1}}
    assert r.staff["nv2"].end_date == "" and r.staff["nv3"].outside is None
    assert r.staff["nv4"].ended_from == float("inf")  # judged by its (absent) end date
    assert r.staff["nv6"].roles == ()


def test_columns_found_by_name_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("\ufeffShift, User_ID ,role,department,status,end_date,vendor,full_name,extra\n"
                    "night,nv1,nurse,SAN-A,Active,,,Lan,x\n", encoding="utf-8")
    r = load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    s = r.staff["nv1"]
    assert (s.shift_name, s.department, s.status, s.full_name) == ("night", "san-a", "active",
                                                                   "Lan")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"user_id,full_name,role\nnv1,A,nurse\n", "header lacks columns department, status"),
        (b"\x00\xff\xfe garbage \x89PNG\r\n", "not UTF-8"),
        (HEADER.encode() + "nv1,Lê,nurse,noi,active,,day,\n".encode("utf-16"), "not UTF-8"),
        (HEADER.encode() + b'nv1,"unterminated,nurse\n', "not readable as CSV"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(tmp_path: Path, content: bytes,
                                                   reason: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(FileRejected, match=reason) as e:
        load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    assert str(path) in str(e.value)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="cannot read"):
        load_flagged(tmp_path / "nope.csv")


def test_mostly_bad_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "".join(",X,nurse,noi,active,,day,\n" for i in range(30))
                    + "ok,X,nurse,noi,active,,day,\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="30 of 31 rows are bad"):
        load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)


def test_an_unknown_shift_word_for_a_fifth_of_the_staff_costs_only_their_shift(
        tmp_path: Path) -> None:
    """The evaluation's roster: 113 of 541 people on a local shift word phiwatch did not
    know. The whole roster was rejected; now those 113 have no shift, nothing else."""
    path = tmp_path / "roster.csv"
    rows = [f"nv{i},X,nurse,noi,active,,{'ca-kip' if i < 113 else 'day'},\n"
            for i in range(541)]
    path.write_text(HEADER + "".join(rows) + "gone,Y,nurse,noi,disabled,,ca-kip,\n",
                    encoding="utf-8")
    r = load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    assert len(r) == 542 and r.report is not None and r.report.bad_rows == 0
    assert r.report.unknown == {"shift": {"ca-kip": 114}}
    assert r.staff["gone"].ended_from == float("-inf")  # terminated detection still works
    assert r.staff["nv200"].outside is not None


def test_local_shift_and_status_words(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "a,X,nurse,noi,Đang làm việc,,Hành chính,\n"
                    "b,X,nurse,noi,nghỉ việc,2026-11-01,trực,\n"
                    "c,X,nurse,noi,,,xoay ca,\n", encoding="utf-8")
    r = load_roster(path, ShiftBook(), ZoneOffsets(HCM), 30)
    assert r.report is not None and r.report.unknown == {}
    assert (r.staff["a"].status, r.staff["a"].shift_name) == ("active", "office")
    assert (r.staff["b"].status, r.staff["b"].shift_name) == ("left", "oncall24")
    assert r.staff["c"].shift_name == "" and r.staff["c"].outside is None


def test_flagged_reasons_accumulate_without_repeats(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("patient_id,reason\nBN1,vip\nBN1,staff_member\nBN1,vip\nBN2,\n",
                    encoding="utf-8")
    f = load_flagged(path)
    assert f.get("BN1") == ("vip", "staff_member")
    assert f.report is not None and f.report.bad_rows == 1
    assert f.report.problems == [f"{path}:5: column 2 'reason': empty reason"]


def test_encounters_merged_and_bisected(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "patient_id,department,start,end\n"
        "P,noi,2026-11-01T08:00:00+07:00,2026-11-02T08:00:00+07:00\n"
        "P,noi,2026-11-02T00:00:00+07:00,2026-11-03T08:00:00+07:00\n"  # overlaps: merged
        "P,noi,2026-11-10T08:00:00+07:00,2026-11-11T08:00:00+07:00\n"
        "P,SAN-A,2026-11-20T08:00:00,\n"
        "P,noi,2026-11-12T08:00:00+07:00,2026-11-12T07:00:00+07:00\n"  # end before start
        "P,noi,yesterday,\n",
        encoding="utf-8")
    e = load_encounters(path, HCM, lambda d: d == "san-a")
    from datetime import datetime

    def t(s: str) -> float:
        return datetime.fromisoformat(s).replace(tzinfo=HCM).timestamp()

    assert e.index["P"]["noi"][0] == (t("2026-11-01T08:00"), t("2026-11-10T08:00"))
    assert e.has("P", "noi", t("2026-11-02T20:00"))
    assert not e.has("P", "noi", t("2026-11-05T00:00"))
    assert e.has("P", "noi", t("2026-11-10T09:00"))
    assert not e.has("P", "noi", t("2026-10-01T00:00"))
    assert e.has("P", "san-a", t("2030-01-01T00:00"))
    assert e.departments("P") == ["noi", "san-a"]
    assert "P" in e.maternity
    assert e.report is not None
    assert e.report.problems[0].startswith(f"{path}:6: column 4 'end': ")
    assert e.report.problems[1].startswith(f"{path}:7: column 3 'start': unparseable time")


def test_huge_encounters_file_stays_fast(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    rows = ["patient_id,department,start,end"]
    for i in range(200_000):
        day = 1 + i % 28
        rows.append(f"BN{i % 50_000:07d},{('noi', 'san-a', 'cap-cuu')[i % 3]},"
                    f"2026-10-{day:02d}T08:00:00+07:00,2026-10-{day:02d}T20:00:00+07:00")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    e = load_encounters(path, HCM, lambda d: d == "san-a")
    load = time.perf_counter() - t0
    assert len(e) == 50_000
    epoch = 1_790_000_000.0
    t0 = time.perf_counter()
    for i in range(100_000):
        e.has(f"BN{i % 50_000:07d}", "noi", epoch)
    per_lookup = (time.perf_counter() - t0) / 100_000
    # generous bounds for a shared machine; measured about 1.5 s and 0.5 µs
    assert load < 20
    assert per_lookup < 20e-6


def test_shift_book() -> None:
    book = ShiftBook({"hanh-chinh": "07:00-16:30", "split": "day+night"})
    assert book.resolve("") is None
    assert book.resolve("24h") is book.resolve("oncall24")
    assert book.resolve("NIGHT") is book.resolve("night")
    hc = book.resolve("hanh-chinh")
    assert hc is not None and hc.windows == ((420, 990),)
    split = book.resolve("split")
    assert split is not None and split.outside[17 * 60] == 60  # 17:00: 1 h from either
    crossing = book.resolve("22-6")
    assert crossing is not None and crossing.windows == ((1320, 1800),)
    assert crossing.outside[3 * 60] == 0 and crossing.outside[12 * 60] == 360
    with pytest.raises(ValueError, match="unknown shift 'dy'"):
        book.resolve("dy")
    with pytest.raises(ValueError, match="unknown shift"):
        book.resolve("25:00-26:00")


def test_config_model(tmp_path: Path) -> None:
    c = ContextConfig.model_validate({"roster": "r.csv", "encounters": "/abs/e.csv"})
    assert c.internal_networks == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    assert c.maternity_departments == []  # the built-in words recognise them
    assert c.shift_tolerance_minutes == 30 and c.timezone is None
    r = c.rebased(tmp_path)
    assert r.roster == tmp_path / "r.csv" and r.encounters == Path("/abs/e.csv")
    assert r.files() == {"roster": tmp_path / "r.csv", "encounters": Path("/abs/e.csv")}
    with pytest.raises(ValidationError, match="extra"):
        ContextConfig.model_validate({"rooster": "r.csv"})
    with pytest.raises(ValidationError, match=r"did you mean 10\.20\.0\.0/16"):
        ContextConfig.model_validate({"internal_networks": ["10.20.3.0/16"]})
    with pytest.raises(ValidationError, match="not a network"):
        ContextConfig.model_validate({"internal_networks": ["10.300.0.0/16"]})
    with pytest.raises(ValidationError, match="unknown time zone"):
        ContextConfig.model_validate({"timezone": "Asia/Saigonn"})
    with pytest.raises(ValidationError, match="unknown shift"):
        ContextConfig.model_validate({"shifts": {"x": "morning"}})


def test_context_reports_bad_rows_in_status_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from sensors.context import Context

    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "nv1,A,nurse,noi,active,,day,\nnv2,B,nurse,noi,active,,dy,\n",
                    encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="sensors.context")
    ctx = Context(ContextConfig(roster=path))
    ctx.load_all()
    st = ctx.status["roster"]
    assert (st.rows, st.used, st.bad_rows) == (2, 2, 0)
    assert st.unknown == {"shift": {"dy": 1}}
    assert f"{path}: unknown shift 'dy' in 1 row(s)" in caplog.text
    assert ctx.counters()["context_roster_unknown_values"] == 1
