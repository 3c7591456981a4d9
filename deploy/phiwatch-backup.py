"""Back up a phiwatch state folder while phiwatch runs: WAL-safe, consistent, verified.

    python deploy/phiwatch-backup.py /var/lib/phiwatch /srv/backup/phiwatch

makes ``/srv/backup/phiwatch/phiwatch-<UTC time>/`` holding a copy of the state folder:

1. first the snapshot (``state.db``: positions in the logs, open alert windows), then
   every plain file (dead letters, the report numbering's key files …);
2. then every other SQLite database (the alert store, the notification outbox, the
   Elasticsearch spool …); databases go through SQLite's online backup API, which copies
   a consistent state including what is still in the ``-wal`` file (copying ``alerts.db``
   alone would lose the last committed alerts), while phiwatch keeps writing;
3. ``PRAGMA integrity_check`` on each copy.

The order matters: the databases are copied *after* the snapshot, so they are at least as
new as it. Restored, phiwatch resumes from the snapshot, reads again what came after it,
and the stores absorb the alerts they already hold (same ids). Standard library only; it
needs read access to the state folder and nothing of phiwatch's code. Exit code 0 when
every file was copied and every database verified.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
#: SQLite's side files: their content reaches the copy through the backup API.
SIDE_FILES = ("-wal", "-shm", "-journal")
SNAPSHOT = "state.db"


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def backup_database(source: Path, target: Path) -> str:
    """Online backup of one database; returns ``integrity_check``'s answer."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=1024)
        (answer,) = dst.execute("PRAGMA integrity_check").fetchone()
    finally:
        dst.close()
        src.close()
    return str(answer)


def backup(state_dir: Path, dest_root: Path, now: datetime | None = None) -> tuple[Path, list[str]]:
    """Copy ``state_dir`` into a new dated folder of ``dest_root``; returns it and the
    problems found (empty when all is well)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    dest = dest_root / f"phiwatch-{stamp}"
    dest.mkdir(parents=True, exist_ok=False)
    files = sorted(p for p in state_dir.rglob("*") if p.is_file())
    databases = [p for p in files if is_sqlite(p)]
    databases.sort(key=lambda p: p.name != SNAPSHOT)  # the snapshot first of all
    plain = [p for p in files if p not in databases and not p.name.endswith(SIDE_FILES)]
    problems: list[str] = []
    snapshot = [p for p in databases if p.name == SNAPSHOT]
    for path in snapshot:
        try:
            answer = backup_database(path, dest / path.relative_to(state_dir))
            if answer != "ok":
                problems.append(f"{path}: integrity check of the copy: {answer}")
        except sqlite3.Error as e:
            problems.append(f"{path}: {e}")
    databases = [p for p in databases if p not in snapshot]
    for path in plain:
        target = dest / path.relative_to(state_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except OSError as e:
            problems.append(f"{path}: {e.strerror}")
    for path in databases:
        try:
            answer = backup_database(path, dest / path.relative_to(state_dir))
        except sqlite3.Error as e:
            problems.append(f"{path}: {e}")
            continue
        if answer != "ok":
            problems.append(f"{path}: integrity check of the copy: {answer}")
    return dest, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", type=Path, help="phiwatch's state_dir")
    parser.add_argument("dest", type=Path, help="folder that receives dated backups")
    args = parser.parse_args(argv)
    if not args.state_dir.is_dir():
        print(f"{args.state_dir}: not a folder (the state_dir of phiwatch.yaml)", file=sys.stderr)
        return 2
    dest, problems = backup(args.state_dir, args.dest)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"backup in {dest}" + (f" with {len(problems)} problem(s)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
