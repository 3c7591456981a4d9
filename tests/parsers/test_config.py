"""The ``parse:`` section: the YAML shapes documented in sensors.parsers.config validate."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from sensors.formats import format_config
from sensors.parsers import (
    CsvParser,
    CsvParserConfig,
    EcsJsonParser,
    FhirParser,
    FhirParserConfig,
    JsonParserConfig,
    parser_for,
)
from sensors.parsers import config as config_module


def documented_examples() -> list[dict[str, Any]]:
    """Each ``parse:`` block of the module docstring's YAML example."""
    doc = config_module.__doc__ or ""
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block is not None
    chunks = re.split(r"\n(?=parse:)", block.group(1).strip())
    return [yaml.safe_load(chunk)["parse"] for chunk in chunks]


def test_the_documented_examples_validate() -> None:
    examples = [format_config(x) for x in documented_examples()]
    kinds = [JsonParserConfig, *[CsvParserConfig] * 3, *[FhirParserConfig] * 2]
    assert [type(x) for x in examples] == kinds
    parsers = [EcsJsonParser, *[CsvParser] * 3, FhirParser]
    assert [type(parser_for(x, "f")) for x in examples[:5]] == parsers  # [5]: a document
    assert examples[2].columns["GIO"] == "@timestamp"
    assert examples[3].names == ["NGAY", "GIO", "MA_NV", "THAO_TAC"]
    assert examples[5].document


def test_documented_csv_examples_read_a_row() -> None:
    vietnamese, two_columns, no_header = (format_config(x)
                                          for x in documented_examples()[1:4])
    parser = parser_for(vietnamese, "audit.csv")
    parser.parse("Thời gian;Mã NV;Thao tác;Mã BN;Số HS".encode(), "audit.csv:1")
    [event] = parser.parse(b"22/11/2026 08:15:02;nv01234;Xem;BN2026001234;1",
                           "audit.csv:2")
    assert event.fields["event.action"] == "view"
    assert event.timestamp.isoformat() == "2026-11-22T01:15:02+00:00"
    parser = parser_for(two_columns, "audit.csv")
    parser.parse(b"NGAY,GIO,MA_NV,THAO_TAC", "audit.csv:1")
    [event] = parser.parse(b"22/11/2026,08:15:02,nv01234,view", "audit.csv:2")
    assert event.timestamp.isoformat() == "2026-11-22T01:15:02+00:00"
    [event] = parser_for(no_header, "audit.csv").parse(b"22/11/2026,08:15:02,nv1,view", "a:1")
    assert event.fields["user.id"] == "nv1"


def test_json_is_the_default_format() -> None:
    assert format_config({"format": "json"}) == JsonParserConfig()
    assert format_config({}) == JsonParserConfig()
    assert JsonParserConfig().timezone is None  # filled from the configuration by the pipeline


@pytest.mark.parametrize(
    ("data", "location"),
    [
        ({"format": "json", "timezone": "Mars/Olympus"}, ("timezone",)),
        ({"format": "json", "delimiter": ";"}, ("delimiter",)),
        ({"format": "fhir", "columns": {}}, ("columns",)),
        ({"format": "csv"}, ("columns",)),
    ],
)
def test_bad_sections_name_the_key(data: dict[str, Any], location: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as e:
        format_config(data)
    assert e.value.errors()[0]["loc"] == location


def test_an_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown input format 'xml' \(known: csv, fhir, json"):
        format_config({"format": "xml"})


def test_the_pipeline_can_fill_in_zone_and_organization() -> None:
    cfg = JsonParserConfig().model_copy(update={"timezone": "UTC", "organization_id": "tu-du"})
    [event] = parser_for(cfg, "a.log").parse(
        b'{"@timestamp": "2026-11-22T08:15:02", "event.action": "view", "user.id": "nv1"}', "a:1"
    )
    assert event.timestamp.hour == 8
    assert event.fields["organization.id"] == "tu-du"


def test_configs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        setattr(JsonParserConfig(), "timezone", "UTC")  # noqa: B010  (frozen model)
