"""Console accounts on both stores, and ``phiwatch users`` on a SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from apikit import World
from consolekit import PASSWORD
from typer.testing import CliRunner

from phiwatch.cli import app
from phiwatch.service import (
    AccountError,
    AccountExists,
    AccountNotFound,
    add_account,
    authenticate,
    get_account,
    list_accounts,
    set_disabled,
    set_password,
)


def test_accounts_on_both_stores(world: World) -> None:
    store = world.open_store()
    try:
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        added = add_account(store, "  Hoa.IT ", "hospital_it", "nhi-dong-1",
                            "một mật khẩu đủ dài", now=t0)
        assert added.username == "hoa.it"
        assert added.password_hash.startswith("$argon2id$")
        assert "một mật khẩu" not in added.password_hash
        with pytest.raises(AccountExists):
            add_account(store, "hoa.it", "inspector", None, "một mật khẩu khác dài")
        got = get_account(store, "HOA.IT")
        assert got is not None and got.hospital == "nhi-dong-1" and not got.disabled
        assert "hoa.it" in [a.username for a in list_accounts(store)]
        assert authenticate(store, "hoa.it", "một mật khẩu đủ dài") is not None
        assert authenticate(store, "hoa.it", "wrong password here") is None
        assert authenticate(store, "nobody", "một mật khẩu đủ dài") is None
        changed = set_password(store, "hoa.it", "mật khẩu mới cũng dài",
                               now=t0 + timedelta(hours=1))
        assert changed.sessions_after == t0 + timedelta(hours=1)
        assert authenticate(store, "hoa.it", "một mật khẩu đủ dài") is None
        assert authenticate(store, "hoa.it", "mật khẩu mới cũng dài") is not None
        set_disabled(store, "hoa.it", True)
        assert authenticate(store, "hoa.it", "mật khẩu mới cũng dài") is None
        set_disabled(store, "hoa.it", False)
        assert authenticate(store, "hoa.it", "mật khẩu mới cũng dài") is not None
        with pytest.raises(AccountNotFound):
            set_password(store, "ghost", "mật khẩu mới cũng dài")
    finally:
        store.close()


@pytest.mark.parametrize(("name", "role", "hospital", "password", "why"), [
    ("bad name!", "inspector", None, PASSWORD, "username"),
    ("x", "superuser", None, PASSWORD, "unknown role"),
    ("x", "hospital_it", None, PASSWORD, "needs --hospital"),
    ("x", "inspector", "tu-du", PASSWORD, "leave out --hospital"),
    ("x", "hospital_it", "Tu Du", PASSWORD, "organization id"),
    ("x", "admin", None, "short", "at least 12"),
])
def test_bad_accounts_are_refused(sqlite_world: World, name: str, role: str,
                                  hospital: str | None, password: str, why: str) -> None:
    store = sqlite_world.open_store()
    try:
        with pytest.raises(AccountError, match=why):
            add_account(store, name, role, hospital, password)
    finally:
        store.close()


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_users_command(tmp_path: Path) -> None:
    config = tmp_path / "phiwatch.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "var")}), encoding="utf-8")
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", str(config)], input=stdin)
        return result.exit_code, result.output

    code, out = run("users", "add", "lan", "--role", "hospital_it", "--hospital", "tu-du",
                    "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, out
    assert "added lan (hospital_it, tu-du)" in out
    code, out = run("users", "add", "lan", "--role", "inspector", "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert code == 2 and "already exists" in out
    code, out = run("users", "add", "thanh", "--role", "inspector", "--password-stdin",
                    stdin="short\n")
    assert code == 2 and "at least 12" in out
    code, out = run("users", "disable", "lan")
    assert code == 0 and "disabled" in out
    code, out = run("users", "list")
    assert code == 0 and "lan\thospital_it\ttu-du\tdisabled" in out
    code, out = run("users", "passwd", "lan", "--password-stdin", stdin="another long one!\n")
    assert code == 0 and "sessions ended" in out
    code, out = run("users", "enable", "ghost")
    assert code == 2 and "no account" in out
    code, out = run("users", "add", "root", "--role", "admin", stdin="a long password 1\n"
                    "a long password 2\n")
    assert code == 2 and "differ" in out
