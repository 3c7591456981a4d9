"""Fixtures for the flow sensor tests: tshark as the reference, and pcap writing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flowkit import TAP_LUA, ExactTable, write_pcap


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of tshark, or skip."""
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (apt-get install tshark): no reference to compare")
    return path


@pytest.fixture(scope="session")
def tshark_exact(
    tshark: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path], ExactTable]:
    """Exact per-pair frames and bytes from tshark's own taps (needs tshark with Lua)."""
    script = tmp_path_factory.mktemp("lua") / "taps.lua"
    script.write_text(TAP_LUA)
    probe = subprocess.run([tshark, "-v"], capture_output=True, text=True).stdout
    if "with Lua" not in probe:
        pytest.skip("this tshark has no Lua: exact byte counts unavailable")

    def run(path: Path) -> ExactTable:
        out = subprocess.run(
            [tshark, "-n", "-q", "-X", f"lua_script:{script}", "-r", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rows: dict[tuple[int, frozenset[str]], list[object]] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) != 5 or parts[0] not in ("4", "6"):
                continue
            ver, _, length, src, dst = parts
            row = rows.setdefault((int(ver), frozenset((src, dst))), [src, dst, 0, 0, 0, 0])
            i = 2 if (row[0], row[1]) == (src, dst) else 4
            row[i] = int(row[i]) + 1  # type: ignore[call-overload]
            row[i + 1] = int(row[i + 1]) + int(length)  # type: ignore[call-overload]
        return {k: tuple(v) for k, v in rows.items()}  # type: ignore[misc]

    return run


@pytest.fixture(scope="session")
def snapped(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, int], Path]:
    """``snapped(capture, 96)``: the capture as a sensor with that snap length would have
    written it, cut by ``editcap -s`` (or skip)."""
    editcap = shutil.which("editcap")
    if editcap is None:
        pytest.skip("editcap is not installed (apt-get install tshark): no cut captures")
    folder = tmp_path_factory.mktemp("snapped")

    def cut(path: Path, snaplen: int) -> Path:
        out = folder / f"{path.stem}-s{snaplen}{path.suffix}"
        if not out.exists():
            subprocess.run([editcap, "-s", str(snaplen), str(path), str(out)], check=True,
                           capture_output=True)  # fmt: skip
        return out

    return cut


@pytest.fixture
def pcap(tmp_path: Path) -> Callable[..., Path]:
    """``pcap(frames, linktype=1, name="t.pcap")`` writes a capture in a temp folder."""

    def make(frames: Iterable[bytes | tuple[bytes, int]], linktype: int = 1,
             name: str = "t.pcap", **kw: float) -> Path:  # fmt: skip
        return write_pcap(tmp_path / name, frames, linktype, **kw)

    return make
