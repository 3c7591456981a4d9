"""Canonical ECS JSON lines: nested, dotted and mixed keys, defaults, ids, and every error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sensors.parsers import EcsJsonParser, JsonParserConfig, ParseError, parser_for
from sensors.parsers.base import identity

#: The example record of the README's "Event fields" (the canonical HIS log).
DESIGN_LINE = (
    '{"@timestamp": "2026-11-22T08:15:02+07:00",'
    ' "event": {"action": "view", "outcome": "success"},'
    ' "user": {"id": "nv01234", "name": "Nguyễn Thị Lan", "roles": ["nurse"],'
    ' "department": "san-a"},'
    ' "source": {"ip": "10.20.3.45"}, "host": {"name": "WS-SAN-A-03"},'
    ' "patient": {"id": "BN2026001234"},'
    ' "his": {"module": "emr", "record_count": 1},'
    ' "organization": {"id": "tu-du"}}'
).encode()

EXPECTED_FIELDS = {
    "event.action": "view",
    "event.outcome": "success",
    "user.id": "nv01234",
    "user.name": "Nguyễn Thị Lan",
    "user.roles": ["nurse"],
    "user.department": "san-a",
    "source.ip": "10.20.3.45",
    "host.name": "WS-SAN-A-03",
    "patient.id": "BN2026001234",
    "his.module": "emr",
    "his.record_count": 1,
    "organization.id": "tu-du",
    "event.dataset": "his.access",
    "event.kind": "event",
}


def parse(line: bytes, **config: Any) -> list[Any]:
    return EcsJsonParser(JsonParserConfig(**config)).parse(line, "/var/log/his/access.log:7")


def one(line: bytes | dict[str, Any], **config: Any) -> Any:
    raw = line if isinstance(line, bytes) else orjson.dumps(line)
    events = parse(raw, **config)
    assert len(events) == 1
    return events[0]


def error(line: bytes | dict[str, Any], **config: Any) -> ParseError:
    raw = line if isinstance(line, bytes) else orjson.dumps(line)
    with pytest.raises(ParseError) as e:
        parse(raw, **config)
    assert "\n" not in e.value.reason
    return e.value


def base(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": "2026-11-22T08:15:02+07:00",
        "event": {"action": "view"},
        "user": {"id": "nv01234"},
    }
    doc.update(extra)
    return doc


def test_the_design_example() -> None:
    event = one(DESIGN_LINE)
    key = identity(event.epoch, event.fields)
    assert event.timestamp == datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)
    assert event.fields == {**EXPECTED_FIELDS, "event.id": key}
    assert event.id == key
    assert event.ref == "/var/log/his/access.log:7"
    assert "@timestamp" not in event.fields
    assert event.nested()["@timestamp"] == "2026-11-22T01:15:02Z"


def test_nested_dotted_and_mixed_give_the_same_event() -> None:
    nested = orjson.loads(DESIGN_LINE)
    dotted = dict(EXPECTED_FIELDS)
    for key in ("event.dataset", "event.kind"):
        del dotted[key]
    dotted["@timestamp"] = nested["@timestamp"]
    mixed = {
        "@timestamp": nested["@timestamp"],
        "event.action": "view",
        "event": {"outcome": "success"},
        "user": {"id": "nv01234", "name": "Nguyễn Thị Lan", "roles": ["nurse"]},
        "user.department": "san-a",
        "source": {"ip": "10.20.3.45"},
        "host.name": "WS-SAN-A-03",
        "patient": {"id": "BN2026001234"},
        "his.module": "emr",
        "his": {"record_count": 1},
        "organization": {"id": "tu-du"},
    }
    deep = {**nested, "event": {"action": "view", "outcome": "success"}}
    events = [one({**doc, "event.id": "e-1"}) for doc in (nested, dotted, mixed, deep)]
    assert all(e == events[0] for e in events)
    assert events[0].fields == {**EXPECTED_FIELDS, "his.event_id": "e-1",
                                "event.id": events[0].id}


def test_deeper_nesting_and_lists_of_objects() -> None:
    event = one(base(his={"request": {"query": {"name": "Nguyễn"}, "page": 2}},
                     related={"user": ["nv01234", "nv00001"]}, tags=[{"a": 1}]))
    assert event.fields["his.request.query.name"] == "Nguyễn"
    assert event.fields["his.request.page"] == 2
    assert event.fields["related.user"] == ["nv01234", "nv00001"]
    assert event.fields["tags"] == [{"a": 1}]


def test_empty_objects_are_dropped() -> None:
    event = one(base(host={}, his={"extra": {}}))
    assert not any(k.startswith(("host", "his")) for k in event.fields)


def test_the_same_field_twice_with_the_same_value_is_fine() -> None:
    assert one(base(**{"user.id": "nv01234"})).fields["user.id"] == "nv01234"


def test_the_same_field_twice_with_different_values_is_an_error() -> None:
    e = error(base(**{"user.id": "nv09999"}))
    assert e.field == "user.id"
    assert "'nv01234'" in e.reason and "'nv09999'" in e.reason


def test_the_inputs_own_event_id_is_kept_apart_and_does_not_change_identity() -> None:
    event = one(base(event={"action": "view", "id": "his-000187"}))
    assert event.fields["his.event_id"] == "his-000187"
    assert event.id == event.fields["event.id"] == one(base()).id
    assert one(base(**{"event.id": 42})).fields["his.event_id"] == "42"


def test_identity_is_the_content_not_the_bytes() -> None:
    line = orjson.dumps(base())
    assert one(line).id == one(line).id == one(line + b" ").id
    assert one(orjson.dumps(base(), option=orjson.OPT_INDENT_2).replace(b"\n", b"")).id \
        == one(line).id
    same_instant = base(**{"@timestamp": "2026-11-22T01:15:02Z"})
    assert one(same_instant).id == one(line).id
    for change in ({"@timestamp": "2026-11-22T08:15:02.000001+07:00"},
                   {"user": {"id": "nv01235"}}, {"event": {"action": "print"}},
                   {"patient.id": "BN1"}, {"source.ip": "10.0.0.1"}, {"host.name": "WS"},
                   {"his.record_count": 2}, {"event.outcome": "failure"},
                   {"organization.id": "tu-du"}, {"event.dataset": "his.system"}):
        assert one(base(**change)).id != one(line).id, change
    for same in ({"user.name": "Lan"}, {"his.module": "emr"}, {"user.roles": ["nurse"]}):
        assert one(base(**same)).id == one(line).id, same
    v6 = one(base(**{"source.ip": "fe80:0:0::1"}))
    assert v6.id == one(base(**{"source.ip": "fe80::1"})).id


def test_defaults_do_not_override_the_record() -> None:
    event = one(base(event={"action": "view", "dataset": "his.emr", "kind": "alert"},
                     organization={"id": "tu-du"}), organization_id="bv-demo")
    assert event.fields["event.dataset"] == "his.emr"
    assert event.fields["event.kind"] == "alert"
    assert event.fields["organization.id"] == "tu-du"


def test_organization_from_the_config_when_absent() -> None:
    assert one(base(), organization_id="tu-du").fields["organization.id"] == "tu-du"
    assert "organization.id" not in one(base()).fields


def test_coercions() -> None:
    fields = one(base(user={"id": 1234, "roles": "nurse"},
                      patient={"id": 2026001234}, his={"record_count": "312"})).fields
    assert fields["user.id"] == "1234"
    assert fields["user.roles"] == ["nurse"]
    assert fields["patient.id"] == "2026001234"
    assert fields["his.record_count"] == 312
    assert one(base(his={"record_count": 25.0})).fields["his.record_count"] == 25


def test_time_zones() -> None:
    local = one(base(**{"@timestamp": "2026-11-22T08:15:02"}))
    assert local.timestamp == datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)  # +07:00
    paris = one(base(**{"@timestamp": "2026-11-22T08:15:02"}), timezone="Europe/Paris")
    assert paris.timestamp == datetime(2026, 11, 22, 7, 15, 2, tzinfo=UTC)
    utc = one(base(**{"@timestamp": "2026-11-22T01:15:02Z"}))
    assert utc.timestamp == local.timestamp
    for epoch in (1795310102, 1795310102000, "1795310102", "1795310102000"):
        assert one(base(**{"@timestamp": epoch})).timestamp == local.timestamp
    formatted = one(base(**{"@timestamp": "22/11/2026 08:15:02"}),
                    timestamp_formats=["%d/%m/%Y %H:%M:%S"])
    assert formatted.timestamp == local.timestamp


def test_byte_order_mark_and_blank_lines() -> None:
    assert one(b"\xef\xbb\xbf" + orjson.dumps(base())).fields["user.id"] == "nv01234"
    assert parse(b"") == []
    assert parse(b"   \t") == []


@pytest.mark.parametrize("missing", ["@timestamp", "event.action", "user.id"])
def test_missing_required_field(missing: str) -> None:
    doc = {"@timestamp": "2026-11-22T08:15:02+07:00", "event.action": "view", "user.id": "nv1"}
    del doc[missing]
    e = error(doc)
    assert e.reason == f"missing required field {missing!r}"
    assert e.field == missing
    e = error({**doc, missing: None} if missing != "@timestamp" else {**doc, missing: ""})
    assert e.field == missing


@pytest.mark.parametrize(
    ("line", "reason", "field"),
    [
        (b"{not json", "not valid JSON", None),
        (b'{"@timestamp": "2026-11-22T08:15:02+07:00", "event": {"action": "view"}',
         "not valid JSON", None),
        (b'\xff\xfe{"a": 1}', "invalid UTF-8 at byte 0", None),
        (b'{"user": {"id": "nv\xc3"}}', "invalid UTF-8 at byte 19", None),
        (b"[1, 2]", "expected a JSON object, found array", None),
        (b'"text"', "expected a JSON object, found string", None),
        (b"null", "expected a JSON object, found null", None),
        (orjson.dumps(base(**{"@timestamp": "31/02/2026"})), "unparseable @timestamp '31/02/2026'",
         "@timestamp"),
        (orjson.dumps(base(**{"@timestamp": 5})), "@timestamp 5 is outside the years 1971-2199",
         "@timestamp"),
        (orjson.dumps(base(**{"@timestamp": "9999-12-31T23:59:59-01:00"})),
         "@timestamp '9999-12-31T23:59:59-01:00' is outside the years", "@timestamp"),
        (orjson.dumps(base(**{"@timestamp": ["2026-11-22"]})),
         "unparseable @timestamp ['2026-11-22']", "@timestamp"),
        (orjson.dumps(base(his={"record_count": "many"})),
         "his.record_count is not a whole number >= 0: 'many'", "his.record_count"),
        (orjson.dumps(base(his={"record_count": -3})), "his.record_count", "his.record_count"),
        (orjson.dumps(base(his={"record_count": 2.5})), "his.record_count", "his.record_count"),
        (orjson.dumps(base(his={"record_count": True})), "his.record_count", "his.record_count"),
        (orjson.dumps(base(user={"id": ["a"]})), "user.id must be a string, not array", "user.id"),
        (orjson.dumps(base(event={"action": 3})), "event.action must be a string, not number",
         "event.action"),
    ],
)
def test_errors_name_the_problem(line: bytes, reason: str, field: str | None) -> None:
    e = error(line)
    assert reason in e.reason
    assert e.field == field


def test_deep_nesting_is_a_parse_error() -> None:
    deep = b'{"a":' * 1000 + b"1" + b"}" * 1000
    assert error(deep).reason


def test_unparseable_time_message_is_short() -> None:
    e = error(base(**{"@timestamp": "x" * 5000}))
    assert len(e.reason) < 120


def test_parser_for_gives_a_new_parser_each_time() -> None:
    cfg = JsonParserConfig(format="json")
    a, b = parser_for(cfg, "a.log"), parser_for(cfg, "b.log")
    assert a is not b
    assert a.parse(orjson.dumps(base()), "a.log:1")[0].fields["user.id"] == "nv01234"


def test_the_name_memory_is_bounded() -> None:
    parser = EcsJsonParser()
    for i in range(600):
        doc = base(**{f"k{i}": {f"x{i}": 1}})
        assert parser.parse(orjson.dumps(doc), "a:1")[0].fields[f"k{i}.x{i}"] == 1
    assert len(parser._names) <= 256
