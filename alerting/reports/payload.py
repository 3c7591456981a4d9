"""The signed JSON copy: every fact of the report, its number, and the documents' hashes.

The Department's instance files reports by machine; the Inspectorate needs to show later
that the PDF it holds is the one the hospital issued. So the copy carries the facts (the
same ``ReportFacts`` the documents were drawn from), the number, the hospital and
incident ids, the issue time, the 72-hour deadline and any reason for delay, and the
SHA-256 of the DOCX and the PDF. Its JSON Schema (``schema/signed-report.schema.json``,
generated from these models, checked in and compared by a test) is the published
contract; ``python -m alerting.reports.payload`` rewrites it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from alerting.reports.model import ReportFacts, UtcTime

SCHEMA_VERSION = "phiwatch.report/1"
SCHEMA_ID = "https://phiwatch.example/schema/signed-report-1.json"
SCHEMA_FILE = "signed-report.schema.json"
Kind = Literal["department_report", "breach_notification"]
Sha256 = Field(pattern=r"^[0-9a-f]{64}$")


class DocumentHashes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    docx_sha256: str = Sha256
    pdf_sha256: str = Sha256


class SignedReport(BaseModel):
    """The payload of the JWS."""

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"$id": SCHEMA_ID})

    schema_version: Literal["phiwatch.report/1"] = "phiwatch.report/1"
    kind: Kind
    hospital_id: str = Field(min_length=1)
    incident_id: str = Field(min_length=1)
    number: int = Field(ge=1)
    #: As printed: "27/BC-BVPSM".
    number_text: str
    year: int
    issued_at: UtcTime
    #: Detection of the incident's first alert + 72 hours.
    deadline: UtcTime
    late: bool
    delay_reason: str | None = None
    documents: DocumentHashes
    facts: ReportFacts

    def to_json(self) -> bytes:
        """Canonical bytes (sorted keys, UTC times): the same report signs the same."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``SignedReport`` as the models define it."""
    schema = SignedReport.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
            "title": "phiwatch signed report copy",
            "description": ("Payload of the JWS a hospital signs for each report to the "
                            "Department of Health or breach notification. See docs/reports.md.")}


@cache
def published_schema() -> dict[str, Any]:
    """The checked-in schema file that verifiers validate against."""
    text = resources.files("alerting.reports").joinpath("schema", SCHEMA_FILE).read_text(
        encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write_schema(path: Path) -> None:
    path.write_text(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n",
                    encoding="utf-8")


if __name__ == "__main__":
    write_schema(Path(sys.argv[1]) if len(sys.argv) > 1
                 else Path(__file__).parent / "schema" / SCHEMA_FILE)
