"""Tails every file that matches a set of globs, across rotation, truncation and restarts.

The source owns one ``Tailer`` per open file, keyed by device and inode, and a
``Checkpoint`` of the positions of files it no longer holds open. It finds files by
scanning the globs (at start, when the directory watcher says something changed, and every
``scan_interval`` seconds as a fallback), parses each complete line with the file's parser,
and sends what cannot be parsed to the dead-letter file.

Rotation: when a tailed path is renamed, deleted or replaced, the old file is drained for
``rotate_wait`` seconds (a writer may still hold it open) and then retired to the
checkpoint; the new file at the path is opened from its start. When a file is truncated,
its position is retired too, so a copy made by copytruncate is resumed where the original
was left (see ``sensors.checkpoint``).
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatch
from pathlib import Path

from sensors.checkpoint import Checkpoint, FilePosition, fingerprint, read_head
from sensors.deadletter import DeadLetter
from sensors.event import Event
from sensors.parsers import ParseError, RecordParser
from sensors.tailer import FileState, Line, Tailer

log = logging.getLogger(__name__)

#: Rotated files that are compressed are not text: never tail them.
DEFAULT_EXCLUDE: tuple[str, ...] = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip")

ParserFactory = Callable[[str], RecordParser]


class FileSource:
    """Events from every file matching ``globs``; positions for the snapshot."""

    def __init__(
        self,
        globs: Iterable[str],
        parser_factory: ParserFactory,
        dead_letter: DeadLetter,
        checkpoint: Checkpoint | None = None,
        *,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        start_at_end: bool = False,
        max_line_bytes: int = 1 << 20,
        rotate_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.globs = list(globs)
        self.exclude = list(exclude)
        self._parser_factory = parser_factory
        self._dead = dead_letter
        self._checkpoint = checkpoint if checkpoint is not None else Checkpoint()
        self._start_at_end = start_at_end
        self.max_line_bytes = max_line_bytes
        self.rotate_wait = rotate_wait
        self._clock = clock
        self._active: dict[tuple[int, int], tuple[Tailer, RecordParser]] = {}
        self._draining: dict[tuple[int, int], tuple[Tailer, RecordParser, float]] = {}
        self._first_scan = True
        self.lines = 0
        self.events = 0

    # -- discovery -------------------------------------------------------------------------

    def matching_paths(self) -> list[str]:
        """Files matching the globs now, minus the excluded names, in a stable order."""
        found: set[str] = set()
        for pattern in self.globs:
            for path in glob.glob(os.path.expanduser(pattern), recursive=True):
                name = os.path.basename(path)
                if not any(fnmatch(name, x) for x in self.exclude) and os.path.isfile(path):
                    found.add(os.path.abspath(path))
        return sorted(found)

    def scan(self) -> None:
        """Open files that appeared, resume known ones, and notice rotation of open ones."""
        for key, (tailer, parser) in list(self._active.items()):
            self._check(key, tailer, parser)
        held = self._active.keys() | self._draining.keys()
        for path in self.matching_paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in held:
                continue
            self._open(path, drain_only=False)
            held = self._active.keys() | self._draining.keys()
        if self._first_scan:
            self._first_scan = False
            self._resume_rotated_away()

    def _open(self, path: str, *, drain_only: bool) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            log.warning("cannot open %s: %s; will retry at the next scan", path, e)
            return False
        try:
            st = os.fstat(fd)
            resume = self._checkpoint.claim(fd, st)
            if resume is None and drain_only:
                return False
            if resume is None and self._is_copy_of_active(fd, st):
                # A copy (copytruncate) of a file we are reading: it is resumed from the
                # original's position once the original is truncated.
                return False
        finally:
            os.close(fd)
        tailer = Tailer.open(
            path,
            resume,
            self._dead,
            max_line_bytes=self.max_line_bytes,
            at_end=self._start_at_end and self._first_scan and resume is None,
        )
        parser = self._new_parser(tailer, resume)
        if drain_only:
            self._draining[tailer.dev_ino] = (tailer, parser, self._clock())
            log.info("resuming rotated file %s at byte %d", path, tailer.position().offset)
        else:
            self._active[tailer.dev_ino] = (tailer, parser)
            if resume is not None:
                log.info("resuming %s at line %d (byte %d)", path, resume.line, resume.offset)
        return True

    def _new_parser(self, tailer: Tailer, resume: FilePosition | None) -> RecordParser:
        parser = self._parser_factory(tailer.path)
        prime = getattr(parser, "prime", None)
        if prime is not None and resume is not None and resume.offset > 0:
            # A stateful parser (CSV with a header line) resumed mid-file needs the header.
            head = os.pread(tailer.fd, 64 * 1024, 0)
            prime(head.split(b"\n", 1)[0].rstrip(b"\r"))
        return parser

    def _is_copy_of_active(self, fd: int, st: os.stat_result) -> bool:
        for tailer, _ in self._active.values():
            pos = tailer.position()
            if pos.strong and fingerprint(read_head(fd, pos.fp_len)) == pos.fp:
                return True
        return False

    def _resume_rotated_away(self) -> None:
        """After a restart, finish files rotated away while phiwatch was stopped.

        A checkpointed file that no glob matches any more is looked for beside its old
        path under a rotated name (``access.log.1``, ``access.log-20261122``).
        """
        for pos in list(self._checkpoint):
            folder, base = os.path.split(pos.path)
            try:
                names = sorted(os.listdir(folder or "."))
            except OSError:
                continue
            for name in names:
                if not name.startswith(base) or any(fnmatch(name, x) for x in self.exclude):
                    continue
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in self._active or key in self._draining:
                    continue
                if self._open(path, drain_only=True):
                    break

    def _check(self, key: tuple[int, int], tailer: Tailer, parser: RecordParser) -> None:
        state = tailer.state()
        if state is FileState.SAME:
            return
        del self._active[key]
        if state is FileState.TRUNCATED:
            log.warning(
                "%s was truncated at byte %d; reading it again from the start "
                "(a rotated copy, if the globs match it, resumes where this one was left)",
                tailer.path,
                tailer.position().offset,
            )
            self._checkpoint.retire(tailer.position())
            tailer.close()
        else:
            log.info("%s was rotated or removed; draining the old file", tailer.path)
            self._draining[key] = (tailer, parser, self._clock())

    # -- reading ---------------------------------------------------------------------------

    def read(self, max_events: int = 10_000) -> list[Event]:
        """Events parsed from what the files hold now, up to about ``max_events``."""
        out: list[Event] = []
        for tailer, parser in list(self._active.values()):
            if len(out) >= max_events:
                break
            if getattr(parser, "document", False):
                self._parse_document(tailer, parser, out)
                continue
            self._parse(tailer, parser, tailer.read(max_events - len(out)), out)
        now = self._clock()
        for key, (tailer, parser, since) in list(self._draining.items()):
            lines = tailer.read(max_events)
            if not lines and now - since >= self.rotate_wait:
                lines = tailer.flush_partial()
                self._parse(tailer, parser, lines, out)
                self._checkpoint.retire(tailer.position())
                tailer.close()
                del self._draining[key]
                continue
            self._parse(tailer, parser, lines, out)
        return out

    def _parse_document(self, tailer: Tailer, parser: RecordParser, out: list[Event]) -> None:
        data = tailer.read_document(getattr(parser, "settle_seconds", 2.0))
        if data is None:
            return
        try:
            events = parser.parse_document(data, f"{tailer.path}:1")  # type: ignore[attr-defined]
        except ParseError as e:
            self._dead.write(source=tailer.path, line=1, offset=0, reason=e.reason,
                             field=e.field, raw=data)
            return
        out.extend(sorted(events, key=lambda e: e.epoch))
        self.lines += 1

    def _parse(
        self, tailer: Tailer, parser: RecordParser, lines: list[Line], out: list[Event]
    ) -> None:
        path = tailer.path
        dead = self._dead
        for line in lines:
            ref = f"{path}:{line.number}"
            try:
                out.extend(parser.parse(line.data, ref))
            except ParseError as e:
                dead.write(
                    source=path,
                    line=line.number,
                    offset=line.offset,
                    reason=e.reason,
                    field=e.field,
                    raw=line.data,
                )
            except Exception as e:  # a parser bug must not stop the sensor or lose the line
                log.exception("parser failed on %s", ref)
                dead.write(
                    source=path,
                    line=line.number,
                    offset=line.offset,
                    reason=f"internal parser error: {type(e).__name__}: {e}",
                    raw=line.data,
                    kind="parser_bug",
                )
        self.lines += len(lines)

    # -- state -----------------------------------------------------------------------------

    @property
    def open_files(self) -> list[str]:
        return [t.path for t, _ in self._active.values()]

    @property
    def bytes_read(self) -> int:
        return sum(t.bytes_read for t, _ in self._active.values()) + sum(
            t.bytes_read for t, _, _ in self._draining.values()
        )

    def positions(self) -> list[FilePosition]:
        """Every known position: open files, draining ones, and the checkpoint's."""
        held = [t.position() for t, _ in self._active.values()]
        held += [t.position() for t, _, _ in self._draining.values()]
        return held + list(self._checkpoint)

    def watched_dirs(self) -> list[Path]:
        """The directories a change notifier should watch (the fixed part of each glob)."""
        dirs: set[Path] = set()
        for pattern in self.globs:
            parts = Path(os.path.expanduser(pattern)).parts
            fixed: list[str] = []
            for part in parts[:-1]:
                if any(c in part for c in "*?["):
                    break
                fixed.append(part)
            dirs.add(Path(*fixed) if fixed else Path("."))
        return sorted(dirs)

    def close(self) -> None:
        """Close every file, keeping their positions in the checkpoint."""
        for tailer, _ in self._active.values():
            self._checkpoint.retire(tailer.position())
            tailer.close()
        for tailer, _, _ in self._draining.values():
            self._checkpoint.retire(tailer.position())
            tailer.close()
        self._active.clear()
        self._draining.clear()
