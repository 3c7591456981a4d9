"""Shared fixtures: the sample hospital and case, keys, and external tools or a skip."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alerting.reports import sample
from alerting.reports.facts import facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.profile import HospitalProfile
from alerting.reports.pseudonym import HmacPseudonymizer
from alerting.reports.signing import SigningKey, load_signing_key, write_key_pair

POPPLER = "apt-get install poppler-utils"


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    """One osmem-server for the session (skipped, saying why, when it cannot run)."""
    from es_testkit import start_osmem

    server = start_osmem()
    yield server
    server.close()


@pytest.fixture
def es_url(osmem_server: Any) -> Iterator[str]:
    """A fresh, empty clone of the session's osmem-server."""
    with osmem_server.clone() as clone:
        yield str(clone.url)


def _need(tool: str, install: str = POPPLER) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed: {install}")
    return path


def _pdf_text(pdf: bytes) -> str:
    _need("pdftotext")
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, check=True,
                         capture_output=True).stdout
    return out.decode("utf-8")


@pytest.fixture
def need() -> Callable[..., str]:
    """``need("pdftoppm")``: the tool's path, or skip with the install command."""
    return _need


@pytest.fixture
def pdf_text() -> Callable[[bytes], str]:
    """The text of a PDF as pdftotext extracts it (skips without poppler-utils)."""
    return _pdf_text


@pytest.fixture(scope="session", autouse=True)
def _serif_font() -> None:
    from alerting.reports.errors import FontError
    from alerting.reports.fonts import find_serif
    try:
        find_serif()
    except FontError as e:
        pytest.skip(str(e))


@pytest.fixture
def hospital() -> HospitalProfile:
    return sample.sample_hospital()


@pytest.fixture
def case() -> sample.SampleCase:
    return sample.sample_case()


@pytest.fixture
def pseudonymize(hospital: HospitalProfile) -> HmacPseudonymizer:
    return HmacPseudonymizer(sample.SAMPLE_KEY, hospital.id)


@pytest.fixture
def facts(case: sample.SampleCase, hospital: HospitalProfile,
          pseudonymize: HmacPseudonymizer) -> ReportFacts:
    return facts_from_incident(case.incident, case.alerts, hospital,
                               now=sample.local(2026, 12, 7, 9), pseudonymize=pseudonymize,
                               evidence=case.evidence, notified=case.notified)


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hospitals' key pairs (ES256 and RS256), made once: RSA generation is slow."""
    d = tmp_path_factory.mktemp("keys")
    write_key_pair(d, "bv-mau", "ES256")
    write_key_pair(d, "bv-khac", "RS256")
    return d


@pytest.fixture
def key(keydir: Path) -> SigningKey:
    return load_signing_key(keydir / "bv-mau.key.pem", "bv-mau")
