"""``phiwatch report``: the reports of confirmed leaks from the command line.

``keygen`` makes the hospital's signing key (and the public key to register with the
Department); ``draft``, ``approve`` and ``show`` are what the API offers hospital IT;
``write`` puts an incident's documents in a folder; ``send --due`` delivers what is due
(a cron job or a systemd timer when the run loop does not); ``verify`` checks a signed
copy — its signature, its schema, and the DOCX and PDF against the hashes it carries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerting.reports.inbox import Keyring
from alerting.reports.payload import SignedReport
from alerting.reports.signing import (
    generate_key_pair,
    key_id,
    load_public_keys,
    peek,
    public_pem,
    verify_report,
)
from phiwatch.cli.common import ConfigOption, echo, errors, fail, load, say
from phiwatch.config import Config
from phiwatch.report_parts import ReportParts, open_report_parts
from phiwatch.reporting import EveryHospital, ReportingStore, write_documents
from phiwatch.service import reports
from phiwatch.stores import open_store, store_exists

app = typer.Typer(help="Reports of confirmed leaks to the Department of Health and the "
                  "breach notification (Mẫu số 08): draft, approve, send, verify.",
                  no_args_is_help=True)
Actor = Annotated[str, typer.Option(help="Who does it (recorded in the report and history).")]


@contextmanager
def _opened(config: Path | None) -> Iterator[tuple[Config, ReportParts, ReportingStore]]:
    cfg = load(config)
    if not store_exists(cfg):
        fail(f"no alert store at {cfg.sqlite_path} yet: run `phiwatch replay` or "
             "`phiwatch run` first")
    with errors():
        parts = reports.parts_of(open_report_parts(cfg))
        store = open_store(cfg, read_only=True)
        try:
            yield cfg, parts, store  # type: ignore[misc]
        finally:
            store.close()
            parts.close()


def _line(r: reports.ReportRecord) -> str:
    number = r.number_text or "(draft, no number)"
    sent = ", ".join(f"{d.channel} {d.target}: {d.state} ({d.attempts} attempt(s))"
                     + (f" — {d.last_error}" if d.last_error and d.state != "delivered" else "")
                     for d in r.deliveries) or "no delivery"
    late = " LATE" if r.late else ""
    return (f"{r.id}  {r.kind:<19}  {r.state:<9}  {number:<16}{late}  "
            f"patients {r.facts.patients_count} ({r.facts.counts_basis})  {sent}")


@app.command("keygen")
def keygen(config: ConfigOption = None,
           algorithm: Annotated[str, typer.Option(help="ES256 (P-256) or RS256.")] = "ES256",
           force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False
           ) -> None:
    """Make the hospital's signing key and print what to register with the Department."""
    cfg = load(config)
    with errors():
        parts = reports.parts_of(open_report_parts(cfg))
        path = parts.key_path
        if path.exists() and not force:
            fail(f"{path} exists (--force replaces it; the Department must then register "
                 "the new public key)")
        if algorithm not in ("ES256", "RS256"):
            fail("--algorithm must be ES256 or RS256")
        private, public = generate_key_pair(algorithm)  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private)
        pub = path.with_name(path.name.replace(".key.pem", "") + ".pub.pem")
        pub.write_bytes(public_pem(private))
    echo(f"signing key: {path} (keep it secret)\npublic key:  {pub} (register it with the "
         f"Department under reports.department.hospital_keys.{parts.issuer().id})\n"
         f"key id:      {key_id(public)}")


@app.command("draft")
def draft(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
          actor: Actor, config: ConfigOption = None,
          measure: Annotated[list[str] | None, typer.Option(
              help="A measure taken (repeat for several).")] = None) -> None:
    """Draft (or redraft) both documents of a confirmed leak."""
    with _opened(config) as (_, parts, store):
        for r in reports.draft_reports(parts, store, incident_id, scope=EveryHospital(),
                                       actor=actor, now=datetime.now(UTC),
                                       measures_taken=measure or ()):
            echo(_line(r))


@app.command("approve")
def approve(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
            actor: Actor, comment: Annotated[str, typer.Option(help="Why (history).")],
            config: ConfigOption = None,
            delay_reason: Annotated[str | None, typer.Option(
                help="Required past the 72-hour deadline.")] = None) -> None:
    """Issue the drafts: number, sign, queue for delivery, mark the incident reported."""
    with _opened(config) as (_, parts, store):
        for r in reports.approve_reports(parts, store, incident_id, scope=EveryHospital(),
                                         actor=actor, now=datetime.now(UTC), comment=comment,
                                         delay_reason=delay_reason):
            echo(_line(r))


@app.command("show")
def show(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
         config: ConfigOption = None) -> None:
    """An incident's reports: state, number, deliveries and every attempt."""
    with _opened(config) as (_, parts, _store):
        found = reports.records_of(parts, incident_id)
        if not found:
            fail(f"incident {incident_id} has no report (draft it first)", 1)
        for r in found:
            echo(_line(r))
            for d, attempts in reports.attempts_of(parts, r):
                for a in attempts:
                    echo(f"    {a.at.isoformat()}  {d.channel} {d.target}  #{a.n} {a.result}"
                         f"{f' {a.status}' if a.status else ''}  {a.error}")


@app.command("write")
def write(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
          out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
          config: ConfigOption = None) -> None:
    """Write an incident's documents (DOCX, PDF and, once issued, the signed JWS)."""
    with _opened(config) as (_, parts, _store):
        found = reports.records_of(parts, incident_id)
        if not found:
            fail(f"incident {incident_id} has no report (draft it first)", 1)
        for path in write_documents(found, out):
            echo(str(path))


@app.command("send")
def send(config: ConfigOption = None,
         due: Annotated[bool, typer.Option("--due", help="Deliver what is due now.")] = False,
         retry: Annotated[str | None, typer.Option(
             help="A report id whose failed deliveries to send again.")] = None) -> None:
    """Deliver queued reports (every attempt is recorded; failures are retried later)."""
    if not due and retry is None:
        fail("say what to send: --due, or --retry REPORT_ID")
    cfg = load(config)
    with errors():
        parts = reports.parts_of(open_report_parts(cfg))
        try:
            now = datetime.now(UTC)
            if retry is not None:
                echo(_line(reports.retry_report(parts, retry, EveryHospital(), now)))
            attempts = reports.deliver_due(parts, now)
        finally:
            parts.close()
    for a in attempts:
        echo(f"delivery {a.delivery_id} attempt {a.n}: {a.result}"
             f"{f' {a.status}' if a.status else ''} {a.error}".rstrip())
    failed = [a for a in attempts if str(a.result) != "delivered"]
    say("sent:" if not failed else "warning:", "green" if not failed else "yellow",
        f"{len(attempts) - len(failed)} delivered, {len(failed)} to retry or look at")


@app.command("verify")
def verify(file: Annotated[Path, typer.Argument(help="The signed copy (.jws).", exists=True,
                                                dir_okay=False)],
           config: ConfigOption = None,
           key: Annotated[list[Path] | None, typer.Option(
               help="A hospital's public key (PEM); repeat for several.")] = None,
           keys: Annotated[Path | None, typer.Option(
               help="A folder of <hospital>.pub.pem files.")] = None,
           docx: Annotated[Path | None, typer.Option(help="The DOCX to check too.")] = None,
           pdf: Annotated[Path | None, typer.Option(help="The PDF to check too.")] = None
           ) -> None:
    """Check a signed copy: signature, algorithm, schema, and the documents' hashes.

    Keys: --key/--keys, else the Department's registered keys (reports.department), else
    this hospital's own key. Exits 1 when anything does not hold."""
    token = file.read_bytes()
    with errors():
        _, claims = peek(token)
        hospital = str(claims.get("hospital_id", ""))
        pems = _keys(config, hospital, key or [], keys)
        header, _ = peek(token)
        kid = header.get("kid")
        pem = Keyring.of({hospital: pems}).key(hospital, kid if isinstance(kid, str) else None)
        documents = {name: p.read_bytes() for name, p in (("docx", docx), ("pdf", pdf))
                     if p is not None}
        try:
            report: SignedReport = verify_report(token, {hospital: pem}, documents=documents)
        except reports.VerificationError as e:
            fail(f"{file}: NOT VERIFIED: {e}", 1)
    checked = " and ".join(n.upper() for n in documents) or "no document"
    echo(f"{file}: verified — {report.number_text} ({report.kind}) of {report.hospital_id}, "
         f"incident {report.incident_id}, issued {report.issued_at.isoformat()}"
         f"{' LATE' if report.late else ''}; key {key_id(pem)}; {checked} matched")


def _keys(config: Path | None, hospital: str, files: list[Path], folder: Path | None
          ) -> list[bytes]:
    pems = [p.read_bytes() for p in files]
    if folder is not None:
        found = load_public_keys(folder).get(hospital)
        if found is not None:
            pems.append(found)
    if pems:
        return pems
    parts = open_report_parts(load(config))
    if parts is None:
        fail("no key: give --key or --keys, or a configuration with reports:")
    try:
        if parts.keyring is not None and hospital in parts.keyring.keys:
            return list(parts.keyring.keys[hospital].values())
        if parts.hospital is not None and parts.hospital.id == hospital:
            return [public_pem(parts.signing_key().private_pem)]
    finally:
        parts.close()
    fail(f"no registered key for hospital {hospital!r}: give --key or --keys")
