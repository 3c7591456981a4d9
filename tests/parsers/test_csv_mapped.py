"""Mapped CSV: header per file, column mapping, code translation, the shared checks."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensors.parsers import CsvParser, CsvParserConfig, JsonParserConfig, ParseError, parser_for

#: An export of a Vietnamese HIS audit trail: date and time in separate columns,
#: Vietnamese codes for the action, a column phiwatch does not need (HO_TEN).
EXPORT = """\ufeffNGAY;GIO;MA_NV;HO_TEN;VAI_TRO;THAO_TAC;MA_BN;SO_HS;MAY_TRAM;IP
22/11/2026;08:15:02;nv01234;"Nguyễn Thị Lan";nurse;XEM;BN2026001234;1;WS-SAN-A-03;10.20.3.45
22/11/2026;08:16:40;nv01234;"Nguyễn Thị Lan";nurse;TIM;;40;WS-SAN-A-03;10.20.3.45
22/11/2026;08:17:00;nv01234;"Nguyễn; Thị Lan";nurse;IN;BN2026001234;1;WS-SAN-A-03;10.20.3.45
22/11/2026;08:18:00;nv07777;"Phạm Minh Tuấn";it;XUAT_EXCEL;;1520;WS-IT-01;10.20.1.5
""".encode()

COLUMNS = {
    "NGAY": "@timestamp",
    "GIO": "@timestamp",
    "MA_NV": "user.id",
    "VAI_TRO": "user.roles",
    "THAO_TAC": "event.action",
    "MA_BN": "patient.id",
    "SO_HS": "his.record_count",
    "MAY_TRAM": "host.name",
    "IP": "source.ip",
}
VALUES = {"event.action": {"XEM": "view", "TIM": "search", "IN": "print", "XUAT_EXCEL": "export"}}


def config(**overrides: Any) -> CsvParserConfig:
    settings: dict[str, Any] = {
        "format": "csv",
        "delimiter": ";",
        "columns": COLUMNS,
        "values": VALUES,
        "timestamp_formats": ["%d/%m/%Y %H:%M:%S"],
        "organization_id": "tu-du",
    }
    settings.update(overrides)
    return CsvParserConfig.model_validate(settings)


def parse_all(
    data: bytes, cfg: CsvParserConfig | None = None, path: str = "audit.csv"
) -> list[Any]:
    parser = parser_for(cfg or config(), path)
    events = []
    for number, line in enumerate(data.splitlines(), 1):
        events.extend(parser.parse(line, f"{path}:{number}"))
    return events


def test_an_hospital_export() -> None:
    events = parse_all(EXPORT)
    assert [e.fields["event.action"] for e in events] == ["view", "search", "print", "export"]
    first = events[0]
    assert first.timestamp == datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)
    assert first.ref == "audit.csv:2"
    assert first.fields == {
        "user.id": "nv01234",
        "user.roles": ["nurse"],
        "event.action": "view",
        "patient.id": "BN2026001234",
        "his.record_count": 1,
        "host.name": "WS-SAN-A-03",
        "source.ip": "10.20.3.45",
        "event.dataset": "his.access",
        "event.kind": "event",
        "organization.id": "tu-du",
        "event.id": first.id,
    }
    assert len(first.id) == 24
    assert "patient.id" not in events[1].fields  # an empty cell is absent
    assert events[1].fields["his.record_count"] == 40
    assert events[3].fields["his.record_count"] == 1520


def test_same_record_as_json_gives_the_same_fields() -> None:
    from sensors.parsers import EcsJsonParser

    line = (b'{"@timestamp": "2026-11-22T08:15:02", "event.action": "view", "user.id": "nv01234",'
            b' "user.roles": "nurse", "patient.id": "BN2026001234", "his.record_count": "1",'
            b' "host.name": "WS-SAN-A-03", "source.ip": "10.20.3.45", "event.id": "x"}')
    from_json = EcsJsonParser(JsonParserConfig(organization_id="tu-du")).parse(line, "a:1")[0]
    from_csv = parse_all(EXPORT)[0]
    assert from_json.fields.pop("his.event_id") == "x"  # the JSON's own id, kept apart
    assert from_json == from_csv  # and so the same identity


def test_codes_not_listed_are_kept() -> None:
    data = EXPORT.splitlines()[0] + b"\n" + EXPORT.splitlines()[1].replace(b";XEM;", b";SUA;")
    assert parse_all(data)[0].fields["event.action"] == "SUA"


def test_header_is_read_per_file_and_a_repeated_header_is_skipped() -> None:
    lines = EXPORT.splitlines()
    reordered = b"MA_NV;NGAY;GIO;HO_TEN;VAI_TRO;THAO_TAC;MA_BN;SO_HS;MAY_TRAM;IP\n" \
                b"nv05555;22/11/2026;09:00:00;x;doctor;XEM;BN1;1;WS;10.0.0.1\n"
    assert parse_all(reordered)[0].fields["user.id"] == "nv05555"
    doubled = b"\n".join([*lines, lines[0].removeprefix(b"\xef\xbb\xbf"), lines[1]])
    assert len(parse_all(doubled)) == 5


def test_prime_gives_a_resumed_file_its_header() -> None:
    lines = EXPORT.splitlines()
    parser = CsvParser(config(), "audit.csv")
    parser.prime(lines[0])
    events = parser.parse(lines[3], "audit.csv:4")
    assert events[0].fields["event.action"] == "print"


def test_configured_names_without_a_header_line() -> None:
    cfg = config(header=False, names=["NGAY", "GIO", "MA_NV", "HO_TEN", "VAI_TRO", "THAO_TAC",
                                      "MA_BN", "SO_HS", "MAY_TRAM", "IP"])
    data = b"\n".join(EXPORT.splitlines()[1:])
    assert len(parse_all(data, cfg)) == 4


def test_configured_names_with_a_header_line_skip_it() -> None:
    cfg = config(names=["D", "T", "U", "N", "R", "A", "P", "C", "H", "I"],
                 columns={"D": "@timestamp", "T": "@timestamp", "U": "user.id",
                          "A": "event.action"},
                 values={"event.action": {"XEM": "view"}})
    events = parse_all(EXPORT, cfg)
    assert len(events) == 4 and events[0].fields["event.action"] == "view"


def test_iso_timestamps_and_the_configured_zone() -> None:
    cfg = CsvParserConfig(format="csv", columns={"t": "@timestamp", "u": "user.id",
                                                 "a": "event.action"}, timezone="Europe/Paris")
    events = parse_all(b"t,u,a\n2026-11-22 08:15:02,nv1,view\n2026-11-22T08:15:02Z,nv1,view\n"
                       b"1795310102,nv1,view\n", cfg)
    assert [e.timestamp.hour for e in events] == [7, 8, 1]


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        (b"22/11/2026;08:15:02;nv01234;x;nurse;XEM;BN1;1;WS", "row at audit.csv:2 has 9 columns, "
         "expected 10 (as in the header line)", None),
        (b"22/11/2026;08:15:02;nv01234;x;nurse;XEM;BN1;1;WS;10.0.0.1;extra", "has 11 columns",
         None),
        (b"22/11/2026;08:15:02;;x;nurse;XEM;BN1;1;WS;10.0.0.1",
         "missing required field 'user.id' (column 'MA_NV')", "user.id"),
        (b";;nv1;x;nurse;XEM;BN1;1;WS;10.0.0.1",
         "missing required field '@timestamp' (column 'NGAY' + 'GIO')", "@timestamp"),
        (b"22/11/2026;08:15:02;nv1;x;nurse;  ;BN1;1;WS;10.0.0.1",
         "missing required field 'event.action' (column 'THAO_TAC')", "event.action"),
        (b"31/02/2026;08:15:02;nv1;x;nurse;XEM;BN1;1;WS;10.0.0.1",
         "unparseable @timestamp '31/02/2026 08:15:02'", "@timestamp"),
        (b"22/11/2026;08:15:02;nv1;x;nurse;XEM;BN1;mot;WS;10.0.0.1",
         "his.record_count is not a whole number >= 0: 'mot'", "his.record_count"),
        (b"22/11/2026;08:15:02;nv1;\xc3(;nurse;XEM;BN1;1;WS;10.0.0.1", "invalid UTF-8 at byte 24",
         None),
        (b'22/11/2026;08:15:02;nv1;"x"y;nurse;XEM;BN1;1;WS;10.0.0.1', "not valid CSV", None),
    ],
)
def test_errors_name_the_problem(row: bytes, reason: str, field: str | None) -> None:
    parser = parser_for(config(), "audit.csv")
    assert parser.parse(EXPORT.splitlines()[0], "audit.csv:1") == []
    with pytest.raises(ParseError) as e:
        parser.parse(row, "audit.csv:2")
    assert reason in e.value.reason
    assert e.value.field == field


def test_a_header_lacking_a_mapped_column_is_reported_once() -> None:
    parser = parser_for(config(), "audit.csv")
    with pytest.raises(ParseError) as e:
        parser.parse(b"NGAY;GIO;MA_NHAN_VIEN;THAO_TAC", "audit.csv:1")
    assert "'MA_NV' (for user.id, closest header 'MA_NHAN_VIEN')" in e.value.reason
    assert e.value.field == "user.id"
    for n in (2, 3):  # every row points at the header; the fix was said once, there
        with pytest.raises(ParseError, match=r"header line \(audit.csv:1\) lacks the column "
                                             r"of user\.id"):
            parser.parse(b"22/11/2026;08:15:02;nv1;XEM", f"audit.csv:{n}")
    assert len(parser.warnings()) == 1 and "MA_NHAN_VIEN" in parser.warnings()[0]
    assert parser.counts() == {"header": 1, "unmappable_row": 2}


def test_a_header_that_cannot_be_decoded() -> None:
    parser = parser_for(config(), "audit.csv")
    with pytest.raises(ParseError, match="invalid UTF-8"):
        parser.parse(b"NGAY;\xff", "audit.csv:1")
    with pytest.raises(ParseError, match=r"header line \(audit.csv:1\) could not be read"):
        parser.parse(b"22/11/2026;08:15:02", "audit.csv:2")


def test_other_encodings() -> None:
    cfg = config(encoding="cp1258")
    text = EXPORT.decode("utf-8").lstrip("\ufeff")
    for name in ("Nguyễn Thị Lan", "Nguyễn; Thị Lan", "Phạm Minh Tuấn"):
        text = text.replace(name, "Đào")
    events = parse_all(text.replace("WS-IT-01", "Máy-Đào").encode("cp1258"), cfg)
    assert len(events) == 4 and events[3].fields["host.name"] == "Máy-Đào"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"header": False}, "names"),
        ({"names": ["a"]}, "not among names"),
        ({"values": {"user.name": {"a": "b"}}}, "no column is mapped"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"encoding": "klingon"}, "unknown text encoding"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timestamp_formats": ["dd/mm/yyyy"]}, "no % directive"),
        ({"columns": {}}, "columns"),
        ({"colums": {}}, "colums"),
    ],
)
def test_bad_configuration(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**settings)


#: The README's example: a Vietnamese HIS export, ';' separated, local times.
VI_CONFIG = {
    "format": "csv", "delimiter": ";", "organization_id": "bv-tu-du",
    "timestamp_formats": ["%d/%m/%Y %H:%M:%S"],
    "columns": {"Thời gian": "@timestamp", "Mã NV": "user.id", "Họ tên": "user.name",
                "Thao tác": "event.action", "Mã BN": "patient.id", "Số HS": "his.record_count",
                "Máy trạm": "host.name", "Địa chỉ IP": "source.ip"},
    "values": {"event.action": {"Đăng nhập": "login", "Xem": "view", "Tìm kiếm": "search",
                                "In": "print", "Xuất": "export", "Sửa": "update"}},
}
VI_EXPORT = """\ufeffThời gian;Mã NV;Họ tên;Thao tác;Mã BN;Số HS;Máy trạm;Địa chỉ IP
22/11/2026 08:15:02;nv01234;Nguyễn Thị Lan;Xem;BN2026001234;1;WS-SAN-A-03;10.20.3.45
22/11/2026 08:16:40;nv01234;Nguyễn Thị Lan;Tìm kiếm;;40;WS-SAN-A-03;10.20.3.45
""".encode()


def test_the_readme_vietnamese_example() -> None:
    events = parse_all(VI_EXPORT, CsvParserConfig.model_validate(VI_CONFIG))
    assert [e.fields["event.action"] for e in events] == ["view", "search"]
    assert events[0].timestamp == datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)
    assert events[0].fields["user.name"] == "Nguyễn Thị Lan"
    assert events[1].fields["his.record_count"] == 40


def test_names_and_codes_match_in_decomposed_unicode() -> None:
    """A header (or a code) typed in NFD, as some keyboards produce, still matches."""
    nfd = unicodedata.normalize("NFD", VI_EXPORT.decode()).encode()
    assert nfd != VI_EXPORT
    events = parse_all(nfd, CsvParserConfig.model_validate(VI_CONFIG))
    assert [e.fields["event.action"] for e in events] == ["view", "search"]
    cfg = {**VI_CONFIG, "columns": {unicodedata.normalize("NFD", k): v
                                    for k, v in VI_CONFIG["columns"].items()}}
    assert len(parse_all(VI_EXPORT, CsvParserConfig.model_validate(cfg))) == 2
    padded = VI_EXPORT.replace("Mã NV;".encode(), "  Mã NV ;".encode())
    assert len(parse_all(padded, CsvParserConfig.model_validate(VI_CONFIG))) == 2


@pytest.mark.parametrize(("delimiter", "shown"), [(",", ","), ("\t", "\\t"), ("|", "|")])
def test_a_wrong_delimiter_is_named_once_with_the_fix(delimiter: str, shown: str) -> None:
    data = VI_EXPORT.replace(b";", delimiter.encode())
    parser = parser_for(CsvParserConfig.model_validate(VI_CONFIG), "vi.csv")
    with pytest.raises(ParseError) as e:
        parser.parse(data.splitlines()[0], "vi.csv:1")
    assert e.value.reason == (
        f"the header splits into 1 column with ';' but into 8 with {shown!r}, 8 of them "
        f'configured: set `parse.delimiter: "{shown}"`')
    for n, line in enumerate(data.splitlines()[1:], 2):
        with pytest.raises(ParseError) as row:
            parser.parse(line, f"vi.csv:{n}")
        assert "Thời gian" not in row.value.reason  # not "missing @timestamp (column …)"
        assert "vi.csv:1" in row.value.reason
    assert len(parser.warnings()) == 1


def test_a_resumed_file_with_a_bad_header_never_raises_in_prime() -> None:
    parser = CsvParser(CsvParserConfig.model_validate(VI_CONFIG), "vi.csv")
    parser.prime(VI_EXPORT.splitlines()[0].replace(b";", b","))
    with pytest.raises(ParseError, match=r"vi\.csv:1"):
        parser.parse(VI_EXPORT.splitlines()[1].replace(b";", b","), "vi.csv:2")
    assert "parse.delimiter" in parser.warnings()[0]


def test_rows_split_by_the_wrong_delimiter_with_configured_names() -> None:
    cfg = config(header=False, names=["NGAY", "GIO", "MA_NV", "HO_TEN", "VAI_TRO", "THAO_TAC",
                                      "MA_BN", "SO_HS", "MAY_TRAM", "IP"], delimiter=",")
    parser = parser_for(cfg, "audit.csv")
    row = EXPORT.splitlines()[1]
    with pytest.raises(ParseError) as e:
        parser.parse(row, "audit.csv:1")
    assert e.value.reason.endswith("""; with ';' it has 10: set `parse.delimiter: ";"`""")
    assert len(parser.warnings()) == 1


def test_unlisted_codes_are_kept_counted_and_warned_once_each() -> None:
    lines = EXPORT.splitlines()
    sua = lines[1].replace(b";XEM;", b";SUA;")
    data = b"\n".join([lines[0], sua, sua, lines[1].replace(b";XEM;", b";view;"),
                       lines[1].replace(b";XEM;", b";KHOA;")])
    parser = parser_for(config(), "audit.csv")
    events = [e for n, line in enumerate(data.splitlines(), 1)
              for e in parser.parse(line, f"audit.csv:{n}")]
    assert [e.fields["event.action"] for e in events] == ["SUA", "SUA", "view", "KHOA"]
    assert parser.unmapped_values() == {"event.action": {"SUA": 2, "KHOA": 1}}
    assert parser.counts() == {"unmapped_value": 3}
    warnings = parser.warnings()
    assert len(warnings) == 2
    assert "event.action value 'SUA' (column 'THAO_TAC') is not in `values:`" in warnings[0]
    assert "`values: {event.action: {'SUA': <one of export, login" in warnings[0]


def test_hostile_values_stay_data_in_warnings() -> None:
    lines = EXPORT.splitlines()
    odd = lines[1].replace(b";XEM;", b";{0.__class__}%s\x1b[31m" + b"x" * 10_000 + b";")
    parser = parser_for(config(), "audit.csv")
    parser.parse(lines[0], "audit.csv:1")
    [event] = parser.parse(odd, "audit.csv:2")
    assert event.fields["event.action"].startswith("{0.__class__}%s")
    [warning] = parser.warnings()
    assert len(warning) < 400 and "\n" not in warning


def test_the_readme_csv_section_works_as_written() -> None:
    """The README's example export and configuration, read from the README itself."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## CSV and TSV access logs", 1)[1].split("\n## ", 1)[0]
    sample = section.split("```text\n", 1)[1].split("```", 1)[0]
    settings = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    cfg = CsvParserConfig.model_validate(settings["sources"][0]["parse"])
    events = parse_all(sample.encode(), cfg)
    assert [e.fields["event.action"] for e in events] == ["view", "search"]
    assert events[0].timestamp == datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)
    assert events[1].fields["his.record_count"] == 40
