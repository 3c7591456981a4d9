"""``phiwatch api``, ``phiwatch token issue`` and ``phiwatch audit verify``."""

from __future__ import annotations

import getpass
import os
import re
from datetime import timedelta
from typing import Annotated

import typer

from phiwatch.cli.common import ConfigOption, echo, errors, fail, load, say, setup_logging

token_app = typer.Typer(help="Bearer tokens of the embedded issuer (HS256 with the secret "
                        "in PHIWATCH_JWT_SECRET).", no_args_is_help=True)
audit_app = typer.Typer(help="The access audit log: who saw patient identifiers.",
                        no_args_is_help=True)

_TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_ttl(text: str) -> timedelta:
    """``8h``, ``30m``, ``2d``, ``90s`` or plain seconds."""
    m = _TTL.match(text)
    if not m:
        raise ValueError(f"--ttl {text!r}: expected a number and a unit, like 8h, 30m or 2d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def api(
    config: ConfigOption = None,
    listen: Annotated[str | None, typer.Option(
        help="HOST:PORT to listen on (default: api.listen of the configuration).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Log every request (no query strings).")] = False,
) -> None:
    """Serve the HTTP API over the configured store until Ctrl-C.

    For a hospital: its own store. For the Department: the shared cluster that every
    hospital's phiwatch writes to. Tokens: `phiwatch token issue`, or the identity
    provider configured under `api.auth`.
    """
    from api.server import ApiServer

    setup_logging(verbose)
    cfg = load(config)
    with errors():
        try:
            server = ApiServer(cfg, listen=listen)
        except ValueError as e:
            fail(f"--listen: {e}")
        try:
            server.serve()
        except OSError as e:
            fail(f"cannot listen on {listen or cfg.api.listen}: {e.strerror or e}")


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(
        help="hospital_it, inspector, department, admin, or sensor (a remote sensor's "
             "token: --subject is the sensor's name).")],
    config: ConfigOption = None,
    hospital: Annotated[str | None, typer.Option(
        help="The hospital (organization.id) of a hospital_it user or a sensor.")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 8h, 30m, 2d (at most 30d).")] = "8h",
    subject: Annotated[str | None, typer.Option(
        help="Who the token is for (recorded as the actor); default: your login name.")] = None,
) -> None:
    """Print a bearer token signed with the embedded issuer's secret."""
    from api.auth import issue_token, load_secret

    cfg = load(config)
    auth = cfg.api.auth
    try:
        lifetime = parse_ttl(ttl)
        secret = load_secret(auth, os.environ)
        if secret is None:
            fail("api.auth.algorithms allows no HS* algorithm: tokens come from the identity "
                 "provider configured under api.auth (jwks_file / jwks_url)")
        algorithm = next(a for a in auth.algorithms if a.startswith("HS"))
        token = issue_token(auth, secret, subject=subject or getpass.getuser(),
                            role=role,  # type: ignore[arg-type]  # checked by issue_token
                            hospital=hospital, ttl=lifetime, algorithm=algorithm)
    except ValueError as e:
        fail(str(e))
    typer.echo(token)


@audit_app.command("verify")
def audit_verify(
    config: ConfigOption = None,
    anchor: Annotated[str | None, typer.Option(
        help="SEQ:HASH of a head printed by an earlier verify: checks it is still there "
             "(finds newer records removed).")] = None,
) -> None:
    """Walk the access audit log and check its hash chain; exit 1 naming the first bad
    record (edited, removed or reordered)."""
    from phiwatch.service import open_api_store, verify_audit

    cfg = load(config)
    pinned: tuple[int, str] | None = None
    if anchor is not None:
        seq, sep, digest = anchor.partition(":")
        if not sep or not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
            fail("--anchor: expected SEQ:HASH (as `phiwatch audit verify` printed it)")
        pinned = (int(seq), digest)
    with errors():
        store = open_api_store(cfg)
        try:
            verdict = verify_audit(store, pinned)
        finally:
            store.close()
    if not verdict.ok:
        say("error:", "bold red", f"audit log: {verdict.problem}")
        echo(f"checked {verdict.records} record(s) before it")
        raise typer.Exit(1)
    echo(f"audit log intact: {verdict.records} record(s)")
    if verdict.records:
        echo(f"head: {verdict.head_seq}:{verdict.head_hash}")
        echo("keep the head somewhere else; `--anchor` checks it later")


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    app.add_typer(token_app, name="token")
    app.add_typer(audit_app, name="audit")
