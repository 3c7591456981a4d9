"""``phiwatch users``: the web console's local accounts (add, list, password, disable).

Passwords are read from the terminal (twice, not echoed) or, with ``--password-stdin``,
from the first line of standard input for scripts; never from the command line, where
they would sit in the shell history and the process list.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from phiwatch.cli.common import ConfigOption, echo, errors, fail, load
from phiwatch.service import (
    AccountError,
    add_account,
    list_accounts,
    open_api_store,
    set_disabled,
    set_password,
)

app = typer.Typer(help="Local accounts of the web console (/console): hospital IT, "
                  "inspectors, the Department, admins.", no_args_is_help=True)

StdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input.")]


@contextmanager
def _store(config: Any) -> Iterator[Any]:
    cfg = load(config)
    with errors():
        store = open_api_store(cfg)
        try:
            yield store
        finally:
            store.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        fail("the two passwords differ")
    return first


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name (lowercase).")],
    role: Annotated[str, typer.Option(help="hospital_it, inspector, department or admin.")],
    config: ConfigOption = None,
    hospital: Annotated[str | None, typer.Option(
        help="The hospital (organization.id) of a hospital_it account.")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Add an account; its password is asked for (at least 12 characters)."""
    password = _password(password_stdin)
    with _store(config) as store:
        try:
            account = add_account(store, username, role, hospital, password)
        except AccountError as e:
            fail(str(e))
    echo(f"added {account.username} ({account.role}"
         f"{', ' + account.hospital if account.hospital else ''})")


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every account: name, role, hospital, whether it is disabled."""
    with _store(config) as store:
        accounts = list_accounts(store)
    if not accounts:
        echo("no accounts yet: phiwatch users add NAME --role ROLE")
    for a in accounts:
        state = "disabled" if a.disabled else "enabled"
        echo(f"{a.username}\t{a.role}\t{a.hospital or '-'}\t{state}\t"
             f"since {a.created_at:%Y-%m-%d}")


@app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="The account.")],
    config: ConfigOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """Set a new password; the account's open sessions end."""
    password = _password(password_stdin)
    with _store(config) as store:
        try:
            set_password(store, username, password)
        except AccountError as e:
            fail(str(e))
    echo(f"password of {username.strip().lower()} changed; its sessions ended")


def _switch(username: str, config: Any, disabled: bool) -> None:
    with _store(config) as store:
        try:
            set_disabled(store, username, disabled)
        except AccountError as e:
            fail(str(e))
    echo(f"{username.strip().lower()} {'disabled; its sessions ended' if disabled else 'enabled'}")


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="The account.")],
            config: ConfigOption = None) -> None:
    """Disable an account: no sign-in, its open sessions end at their next request."""
    _switch(username, config, True)


@app.command("enable")
def enable(username: Annotated[str, typer.Argument(help="The account.")],
           config: ConfigOption = None) -> None:
    """Enable a disabled account again."""
    _switch(username, config, False)
