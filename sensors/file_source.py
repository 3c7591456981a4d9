"""Reads every file that matches a set of globs, across rotation, truncation and restarts.

The source owns one open file per matching file, keyed by device and inode, and a
``Checkpoint`` of the positions of files it no longer holds open. It finds files by
scanning the globs (at start, when the directory watcher says something changed, and every
``scan_interval`` seconds as a fallback). Each open file has a ``Split`` (``sensors.split``):
the file's events go there, with the file's own event-time watermark, and the pipeline's
``EventTimeMerge`` releases them in time order across every file of every source. What
cannot be parsed goes to the dead-letter file.

Files are read through the format their source names (``sensors.formats``): line by line
(a growing log), or whole once settled (a capture, a Zeek log, a FHIR Bundle file).
``phiwatch replay`` uses the same class with ``finite=True``: a file read to its end is
finished, where ``phiwatch run`` waits for more.

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
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from sensors.checkpoint import (
    Checkpoint,
    FilePosition,
    fingerprint,
    read_head,
    tail_fingerprint,
)
from sensors.deadletter import DeadLetter
from sensors.event import Event
from sensors.formats import FileParser
from sensors.parsers.base import ParseError
from sensors.split import Split
from sensors.tailer import FileState, Line, Tailer

log = logging.getLogger(__name__)

#: Rotated files that are compressed are not text: never tail them.
DEFAULT_EXCLUDE: tuple[str, ...] = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip")
#: How much of a file a parser resumed mid-way is shown (``FileParser.prime``).
HEAD_BYTES = 64 * 1024

ParserFactory = Callable[[str], FileParser]
SplitFactory = Callable[[str], Split]


@dataclass(eq=False, slots=True)
class OpenFile:
    """One file being read: where, how, and the split its events go to."""

    tailer: Tailer
    parser: FileParser
    split: Split
    #: ``time.monotonic()`` when the file was found rotated away; ``None`` while current.
    draining_since: float | None = None
    #: How many of the parser's warnings have been passed on.
    warned: int = 0


class FileSource:
    """Events from every file matching ``globs``, into one split per file."""

    def __init__(
        self,
        globs: Iterable[str],
        parser_factory: ParserFactory,
        dead_letter: DeadLetter,
        checkpoint: Checkpoint | None = None,
        *,
        new_split: SplitFactory = Split,
        on_split: Callable[[Split], object] = lambda split: None,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        start_at_end: bool = False,
        max_line_bytes: int = 1 << 20,
        rotate_wait: float = 5.0,
        finite: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.globs = list(globs)
        self.exclude = list(exclude)
        self._parser_factory = parser_factory
        self._new_split = new_split
        self._on_split = on_split
        self._dead = dead_letter
        self._checkpoint = checkpoint if checkpoint is not None else Checkpoint()
        self._start_at_end = start_at_end
        self.max_line_bytes = max_line_bytes
        self.rotate_wait = rotate_wait
        #: Files are complete (a replay): one read to its end is finished, not waited on.
        self.finite = finite
        self._clock = clock
        self._files: dict[tuple[int, int], OpenFile] = {}
        self._bytes_done = 0  # bytes of the files closed since the start
        #: What parsers noticed about whole files (``FileParser.warnings``), once each,
        #: prefixed with the file: a header that does not split, a code with no mapping.
        self.warnings: list[str] = []
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
        for key, f in list(self._files.items()):
            if f.draining_since is None:
                self._check(key, f)
        for path in self.matching_paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in self._files:
                self._open(path, drain_only=False)
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
            if resume is None and self._is_copy_of_open(fd):
                # A copy (copytruncate) of a file we are reading: it is resumed from the
                # original's position once the original is truncated.
                return False
        finally:
            os.close(fd)
        tailer = Tailer.open(
            path, resume, self._dead, max_line_bytes=self.max_line_bytes,
            at_end=self._start_at_end and self._first_scan and resume is None,
        )
        parser = self._parser_factory(tailer.path)
        if parser.prime is not None and resume is not None and resume.offset > 0:
            # A parser whose lines depend on the file's start (a CSV header) resumed past it.
            parser.prime(os.pread(tailer.fd, HEAD_BYTES, 0))
        split = self._new_split(path)
        f = OpenFile(tailer, parser, split, self._clock() if drain_only else None)
        split.pull = lambda budget: self._pull(f, budget)
        self._files[tailer.dev_ino] = f
        self._on_split(split)
        if drain_only:
            log.info("resuming rotated file %s at byte %d", path, tailer.position().offset)
        elif resume is not None:
            log.info("resuming %s at line %d (byte %d)", path, resume.line, resume.offset)
        return True

    def _is_copy_of_open(self, fd: int) -> bool:
        """Whether ``fd`` is a copy of a file being read: the same start *and* the bytes
        read last (a new file that merely starts alike — the next day's export with the
        same long header — is not a copy)."""
        size = os.fstat(fd).st_size
        for f in self._files.values():
            pos = f.tailer.position()
            if (pos.strong and fingerprint(read_head(fd, pos.fp_len)) == pos.fp
                    and size >= pos.offset
                    and tail_fingerprint(fd, pos.offset) == pos.tail_fp):
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
                if (st.st_dev, st.st_ino) in self._files:
                    continue
                if self._open(path, drain_only=True):
                    break

    def _check(self, key: tuple[int, int], f: OpenFile) -> None:
        state = f.tailer.state()
        if state is FileState.SAME:
            return
        if state is FileState.TRUNCATED:
            log.warning(
                "%s was truncated at byte %d; reading it again from the start "
                "(a rotated copy, if the globs match it, resumes where this one was left)",
                f.tailer.path, f.tailer.position().offset,
            )
            self._retire(key, f)
        else:
            log.info("%s was rotated or removed; draining the old file", f.tailer.path)
            f.draining_since = self._clock()

    def _retire(self, key: tuple[int, int], f: OpenFile) -> None:
        """The file will give nothing more: keep its position, close it, end its split."""
        self._checkpoint.retire(f.tailer.position())
        self._bytes_done += f.tailer.bytes_read
        f.tailer.close()
        f.split.finish()
        del self._files[key]

    # -- reading ---------------------------------------------------------------------------

    def fill(self, budget: int, max_pending: int) -> int:
        """Read up to ``budget`` more records of each file whose split holds fewer than
        ``max_pending`` events (memory stays bounded while the merge waits for a lagging
        file); finish what ended. Returns the number of records read."""
        got = 0
        for f in list(self._files.values()):
            if len(f.split.pending) < max_pending:
                got += self._pull(f, budget)
        return got

    def _pull(self, f: OpenFile, budget: int) -> int:
        """Read up to ``budget`` records of one file into its split."""
        key = f.tailer.dev_ino
        if key not in self._files:
            return 0
        tailer, parser = f.tailer, f.parser
        out: list[Event] = []
        if parser.document is not None:
            got = self._read_document(f, out)
            f.split.add(out, self._clock())
            if got or self.finite:
                self._retire(key, f)  # a document is read once
            return got
        lines = tailer.read(budget)
        ended = not lines and (
            (self.finite and tailer.at_end)
            or (f.draining_since is not None
                and self._clock() - f.draining_since >= self.rotate_wait))
        if ended:
            lines = tailer.flush_partial()
        self._parse(tailer.path, parser, lines, out)
        f.split.add(out, self._clock())
        if parser.warnings is not None:
            self._pass_on_warnings(f, parser.warnings())
        if ended:
            self._retire(key, f)
        return len(lines)

    def _pass_on_warnings(self, f: OpenFile, warnings: list[str]) -> None:
        for warning in warnings[f.warned:]:
            log.warning("%s: %s", f.tailer.path, warning)
            self.warnings.append(f"{f.tailer.path}: {warning}")
        f.warned = len(warnings)

    def _read_document(self, f: OpenFile, out: list[Event]) -> int:
        assert f.parser.document is not None
        tailer = f.tailer
        if not tailer.document_ready(0.0 if self.finite else f.parser.settle_seconds):
            return 0
        path = tailer.path

        def reject(line: int, reason: str, field: str | None, raw: bytes) -> None:
            self._dead.write(source=path, line=line, offset=-1, reason=reason, field=field,
                             raw=raw)

        try:
            events = list(f.parser.document.read(path, reject))
        except ParseError as e:
            self._dead.write(source=path, line=1, offset=0, reason=e.reason, field=e.field,
                             raw=b"")
            return 1
        except OSError as e:
            self._dead.write(source=path, line=1, offset=0,
                             reason=f"cannot read the file: {e.strerror}", raw=b"")
            return 1
        out.extend(events)
        self.lines += 1
        self.events += len(events)
        return 1

    def _parse(self, path: str, parser: FileParser, lines: list[Line], out: list[Event]) -> None:
        parse = parser.lines
        assert parse is not None
        dead = self._dead
        n = len(out)
        for line in lines:
            ref = f"{path}:{line.number}"
            try:
                events = parse.parse(line.data, ref)
            except ParseError as e:
                dead.write(source=path, line=line.number, offset=line.offset, reason=e.reason,
                           field=e.field, raw=line.data)
                continue
            except Exception as e:  # a parser bug must not stop the sensor or lose the line
                log.exception("parser failed on %s", ref)
                dead.write(source=path, line=line.number, offset=line.offset,
                           reason=f"internal parser error: {type(e).__name__}: {e}",
                           raw=line.data, kind="parser_bug")
                continue
            for event in events:
                event.offset = line.offset
            out.extend(events)
        self.lines += len(lines)
        self.events += len(out) - n

    # -- state -----------------------------------------------------------------------------

    @property
    def open_files(self) -> list[str]:
        return [f.tailer.path for f in self._files.values() if f.draining_since is None]

    @property
    def splits(self) -> list[Split]:
        return [f.split for f in self._files.values()]

    @property
    def bytes_read(self) -> int:
        """Bytes read since the start, from open and closed files."""
        return self._bytes_done + sum(f.tailer.bytes_read for f in self._files.values())

    def positions(self) -> list[FilePosition]:
        """Every known position: open files (current or draining) and the checkpoint's."""
        return [f.tailer.position() for f in self._files.values()] + list(self._checkpoint)

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
        for f in self._files.values():
            self._checkpoint.retire(f.tailer.position())
            f.tailer.close()
        self._files.clear()
