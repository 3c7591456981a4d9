"""parse_timestamp: every way a hospital log writes time, read as one UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sensors.timestamps import DEFAULT_ZONE, TimeRangeError, get_zone, parse_timestamp

HCM = get_zone("Asia/Ho_Chi_Minh")
#: 2026-11-22 08:15:02 in Hồ Chí Minh City (UTC+7).
INSTANT = datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)


def test_default_zone_is_ho_chi_minh() -> None:
    assert DEFAULT_ZONE == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-22T08:15:02+07:00",
        "2026-11-22T01:15:02Z",
        "2026-11-22T01:15:02z",
        "2026-11-22T01:15:02+00:00",
        "2026-11-22T08:15:02+0700",
        "2026-11-22T08:15:02",  # no offset: the default zone
        "2026-11-22 08:15:02",  # space instead of T
        " 2026-11-22T08:15:02 ",
        "20261122081502",  # HL7 v2 style
        "1795310102",  # epoch seconds as a string
        "1795310102000",  # epoch milliseconds as a string
        1795310102,
        1795310102.0,
        1795310102000,
        1795310102000000,  # microseconds
        1795310102000000000,  # nanoseconds
        datetime(2026, 11, 22, 8, 15, 2),
    ],
)
def test_same_instant(value: object) -> None:
    got = parse_timestamp(value, HCM)
    assert got == INSTANT
    assert got.utcoffset() is not None and got.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_without_a_zone_argument_uses_the_default() -> None:
    assert parse_timestamp("2026-11-22T08:15:02") == INSTANT


def test_configured_zone_is_honoured() -> None:
    got = parse_timestamp("2026-11-22T08:15:02", get_zone("Europe/Paris"))
    assert got == datetime(2026, 11, 22, 7, 15, 2, tzinfo=UTC)


def test_an_explicit_offset_wins_over_the_zone() -> None:
    got = parse_timestamp("2026-11-22T08:15:02+09:00", get_zone("Europe/Paris"))
    assert got == datetime(2026, 11, 21, 23, 15, 2, tzinfo=UTC)


def test_fractional_seconds() -> None:
    assert parse_timestamp("2026-11-22T08:15:02.381+07:00", HCM).microsecond == 381_000
    assert parse_timestamp("2026-11-22T08:15:02,5", HCM).microsecond == 500_000
    # beyond microseconds (Java, .NET) the extra digits are dropped
    assert parse_timestamp("2026-11-22T01:15:02.123456789Z", HCM).microsecond == 123_456
    assert parse_timestamp("1795310102.25", HCM).microsecond == 250_000
    assert parse_timestamp(1795310102123, HCM).microsecond == 123_000


def test_strptime_formats_in_order() -> None:
    formats = ["%Y/%m/%d", "%d/%m/%Y %H:%M:%S"]
    assert parse_timestamp("22/11/2026 08:15:02", HCM, formats) == INSTANT
    assert parse_timestamp("22/11/2026 08:15:02 +0700", HCM, ["%d/%m/%Y %H:%M:%S %z"]) == INSTANT


def test_dst_ambiguous_time_reads_the_first_occurrence() -> None:
    # 2026-10-25 02:30 happens twice in Paris; fold=0 is the first (still CEST, UTC+2).
    got = parse_timestamp("2026-10-25T02:30:00", get_zone("Europe/Paris"))
    assert got == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_dst_gap_time_uses_the_offset_before_the_gap() -> None:
    # 2026-03-29 02:30 does not exist in Paris; read with CET (UTC+1).
    got = parse_timestamp("2026-03-29T02:30:00", get_zone("Europe/Paris"))
    assert got == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    ["31/02/2026", "", "yesterday", "2026-13-01T00:00:00", "12:00", "1e9", "--5", None, True,
     [1795310102], {"t": 1}, float("nan"), float("inf"), 5, -1795310102, 10**25,
     "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1970-06-01T00:00:00",
     datetime(9999, 12, 31, 23, 59)],
)
def test_unparseable_values_raise_value_error_naming_them(value: object) -> None:
    with pytest.raises(ValueError) as e:
        parse_timestamp(value, HCM, ["%d/%m/%Y %H:%M:%S"])
    shown = value if isinstance(value, str) else repr(value)
    assert shown[:20] in str(e.value)


def test_out_of_range_times_say_so() -> None:
    for value in ("2200-01-01T00:00:00Z", 10**10 * 1000 * 1000, "1970-12-31"):
        with pytest.raises(TimeRangeError, match="outside the years 1971-2199"):
            parse_timestamp(value, HCM)


def test_long_values_are_cut_short_in_the_message() -> None:
    with pytest.raises(ValueError) as e:
        parse_timestamp("x" * 10_000, HCM)
    assert len(str(e.value)) < 120


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        get_zone("Mars/Olympus")
    assert get_zone("Asia/Ho_Chi_Minh") is get_zone("Asia/Ho_Chi_Minh")  # cached
