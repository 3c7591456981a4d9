"""Whatever bytes arrive, a parser returns events or raises ParseError, never anything else.

The tailer counts anything else as a parser bug, so these properties are what keeps a
hostile or corrupted log from being mistaken for a bug in phiwatch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.event import Event
from sensors.parsers import (
    CsvParserConfig,
    FhirParserConfig,
    JsonParserConfig,
    ParseError,
    RecordParser,
    parser_for,
)

DATA = Path(__file__).parent / "data"

CSV = CsvParserConfig(
    format="csv",
    columns={"t": "@timestamp", "u": "user.id", "a": "event.action", "n": "his.record_count",
             "r": "user.roles"},
    values={"event.action": {"XEM": "view"}},
    timestamp_formats=["%d/%m/%Y %H:%M:%S"],
)
FHIR = FhirParserConfig(format="fhir")
JSON = JsonParserConfig(format="json", timestamp_formats=["%d/%m/%Y"])

SAMPLES = [
    b'{"@timestamp":"2026-11-22T08:15:02+07:00","event":{"action":"view"},'
    b'"user":{"id":"nv1","roles":"nurse"},"his":{"record_count":3},"patient.id":"BN1"}',
    b"22/11/2026 08:15:02,nv1,XEM,3,nurse",
    orjson.dumps(orjson.loads((DATA / "audit_read_patient.json").read_bytes())),
    orjson.dumps(orjson.loads((DATA / "bundle_searchset.json").read_bytes())),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["2026-11-22T08:15:02Z", "1795310102", "Patient/BN1", "AuditEvent",
                       "Bundle", "0", "4", "R", "110122", "read", "9999-12-31T23:59:59-01:00",
                       "0001-01-01T00:00:00+01:00", "1795310102000"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["@timestamp", "event", "action", "user", "id", "user.id", "roles",
                         "his", "record_count", "resourceType", "recorded", "agent", "who",
                         "reference", "identifier", "value", "requestor", "entity", "what",
                         "subtype", "type", "code", "coding", "network", "address", "entry",
                         "resource", "outcome", "source", "observer", "role", "event.action"])
        | st.text(max_size=8),
        children,
        max_size=6,
    ),
    max_leaves=30,
)


def new_parsers() -> list[RecordParser]:
    csv = parser_for(CSV, "fuzz.csv")
    csv.prime(b"t,u,a,n,r")  # type: ignore[attr-defined]
    return [parser_for(JSON, "fuzz.log"), csv, parser_for(FHIR, "fuzz.ndjson"),
            parser_for(CSV, "fresh.csv")]


def only_parse_errors(parser: RecordParser, line: bytes) -> None:
    try:
        events = parser.parse(line, "fuzz:1")
    except ParseError as e:
        assert e.reason and "\n" not in e.reason
        assert e.field is None or isinstance(e.field, str)
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, Event)
        assert event.timestamp.utcoffset() is not None
        assert event.id and event.fields["event.id"] == event.id
        if event.fields["event.dataset"] == "his.system":  # an application's event
            assert isinstance(event.fields.get("user.id", ""), str)
        else:
            assert isinstance(event.fields["user.id"], str)
        assert isinstance(event.fields["event.action"], str)
        count = event.fields.get("his.record_count")
        assert count is None or (type(count) is int and count >= 0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(line: bytes) -> None:
    for parser in new_parsers():
        only_parse_errors(parser, line)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_corrupted_real_records(sample: bytes, data: st.DataObject) -> None:
    line = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(line) - 1))
        line[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(line)))
    for parser in new_parsers():
        only_parse_errors(parser, bytes(line[:cut]))
        only_parse_errors(parser, bytes(line))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_documents(doc: Any) -> None:
    try:
        line = orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError):
        return  # NaN and friends are not JSON
    for parser in new_parsers():
        only_parse_errors(parser, line)
    if isinstance(doc, dict):
        for kind in ("AuditEvent", "Bundle"):
            only_parse_errors(parser_for(FHIR), orjson.dumps({**doc, "resourceType": kind}))
        bundle = {"resourceType": "Bundle", "entry": [{"resource": {**doc,
                                                                    "resourceType": "AuditEvent"}}]}
        only_parse_errors(parser_for(FHIR), orjson.dumps(bundle))


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
AUDIT_EVENTS = [orjson.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("*/*.json"))]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


PATHS = [(i, path) for i, doc in enumerate(AUDIT_EVENTS) for path in _paths(doc)]


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = orjson.loads(orjson.dumps(doc))
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values)
def test_wrong_types_at_every_fhir_path(where: tuple[int, tuple[Any, ...]], value: Any) -> None:
    """Any JSON value at any path of the HL7, BALP and paging fixtures."""
    index, path = where
    try:
        line = orjson.dumps(_replaced(AUDIT_EVENTS[index], path, value))
    except (TypeError, orjson.JSONEncodeError):
        return
    only_parse_errors(parser_for(FHIR), line)


def test_hostile_sizes_and_depths() -> None:
    big = "x" * 10_000_000
    doc = orjson.loads((FIXTURES / "r4" / "auditevent-example-disclosure.json").read_bytes())
    for path in [("recorded",), ("agent", 0, "who", "identifier", "value"),
                 ("entity", 1, "what", "identifier", "value"), ("agent", 0, "network", "address"),
                 ("subtype", 0, "code")]:
        only_parse_errors(parser_for(FHIR), orjson.dumps(_replaced(doc, path, big)))
    for depth in (100, 5_000):  # valid JSON, nested deeper than any AuditEvent
        line = (b'{"resourceType":"AuditEvent","recorded":"2026-11-22T08:00:00Z","entity":'
                + b'[{"what":' * depth + b"{}" + b"}]" * depth + b"}")
        only_parse_errors(parser_for(FHIR), line)
    only_parse_errors(parser_for(FHIR), b"\xff\xfe" + orjson.dumps(doc))
    csv = parser_for(CSV, "big.csv")
    only_parse_errors(csv, b"t,u,a,n,r" + b",x" * 100_000)
    only_parse_errors(csv, b"22/11/2026 08:15:02,nv1,XEM,3," + big.encode())
