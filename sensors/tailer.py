"""Follows one log file, yielding complete lines and the position just after them.

The tailer reads with ``os.pread`` on a descriptor it keeps open, so a file renamed away
(rotation) or deleted can still be drained to its end. It hands out only complete lines:
a partial last line waits for its newline, and the committed offset never passes the start
of a line that has not been handed out, so a restart never starts mid-line.

A line longer than ``max_line_bytes`` is not held in memory: it is streamed into a
dead-letter side file and reported once it ends.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO

from sensors.checkpoint import (
    FINGERPRINT_BYTES,
    FilePosition,
    fingerprint,
    read_head,
    tail_fingerprint,
)
from sensors.deadletter import DeadLetter

CHUNK_BYTES = 1 << 20


@dataclass(slots=True)
class Line:
    """One complete line of a file (without its line ending)."""

    data: bytes
    number: int
    offset: int


class FileState(Enum):
    """What became of the file behind a tailer since it was opened."""

    SAME = "same"
    TRUNCATED = "truncated"  # copytruncate, or a writer that truncates in place
    REPLACED = "replaced"  # the path now names another file (rename rotation, re-create)
    GONE = "gone"  # the path no longer exists


class Tailer:
    """Reads one open file from a position onwards."""

    def __init__(
        self,
        path: str,
        fd: int,
        position: FilePosition,
        dead_letter: DeadLetter,
        *,
        max_line_bytes: int = 1 << 20,
    ) -> None:
        self.path = path
        self._fd = fd
        self._pos = position
        self._dead = dead_letter
        self.max_line_bytes = max_line_bytes
        self._buf = bytearray()
        self._read_offset = position.offset  # bytes read from the file so far
        self._oversize: tuple[Path, IO[bytes], int] | None = None  # (blob, file, line start)
        self.bytes_read = 0
        self._tail_at, self._tail_fp = -1, ""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str,
        resume: FilePosition | None,
        dead_letter: DeadLetter,
        *,
        max_line_bytes: int = 1 << 20,
        at_end: bool = False,
    ) -> Tailer:
        """Open ``path`` at ``resume`` (a claimed position), else at its start (or end)."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            head = read_head(fd)
            if resume is not None:
                pos = FilePosition(path, st.st_dev, st.st_ino, resume.fp_len, resume.fp,
                                   resume.offset, resume.line, resume.tail_fp)
            else:
                start = st.st_size if at_end else 0
                # Starting at the end, line numbers count from there.
                pos = FilePosition(
                    path, st.st_dev, st.st_ino, len(head), fingerprint(head), start, 0
                )
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, pos, dead_letter, max_line_bytes=max_line_bytes)

    # -- state -----------------------------------------------------------------------------

    @property
    def dev_ino(self) -> tuple[int, int]:
        return (self._pos.dev, self._pos.ino)

    @property
    def fd(self) -> int:
        return self._fd

    def position(self) -> FilePosition:
        """The committed position: everything before it has been handed out as lines."""
        pos = self._pos
        if pos.fp_len < FINGERPRINT_BYTES:
            head = read_head(self._fd)
            if len(head) > pos.fp_len:
                pos.fp_len, pos.fp = len(head), fingerprint(head)
        pos.path = self.path
        self._note_tail()
        return FilePosition(pos.path, pos.dev, pos.ino, pos.fp_len, pos.fp, pos.offset, pos.line,
                            self._tail_fp)

    def _note_tail(self) -> None:
        """Fingerprint the bytes before the committed offset while they are still there
        (a truncation later would take them with it)."""
        offset = self._pos.offset
        if offset != self._tail_at:
            self._tail_at, self._tail_fp = offset, tail_fingerprint(self._fd, offset)

    @property
    def pending_bytes(self) -> int:
        """Bytes in the file not yet read (a cheap ``fstat``)."""
        return max(0, os.fstat(self._fd).st_size - self._read_offset)

    def state(self) -> FileState:
        """Whether the file was truncated, or the path now names another file or nothing.

        A truncation followed by fast rewriting can leave the file as long as before, so
        the first bytes are compared with the fingerprint as well as the size.
        """
        pos = self._pos
        if os.fstat(self._fd).st_size < self._read_offset or (
            pos.fp_len and fingerprint(read_head(self._fd, pos.fp_len)) != pos.fp
        ):
            return FileState.TRUNCATED
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return FileState.GONE
        if (st.st_dev, st.st_ino) != (self._pos.dev, self._pos.ino):
            return FileState.REPLACED
        return FileState.SAME

    # -- reading ---------------------------------------------------------------------------

    def read(self, max_lines: int = 10_000) -> list[Line]:
        """Up to about ``max_lines`` complete lines that are available now (maybe none)."""
        out: list[Line] = []
        if self.state() is FileState.TRUNCATED:
            return out  # never read on from an offset in another content; the source rescans
        buf = self._buf
        while len(out) < max_lines:
            chunk = os.pread(self._fd, CHUNK_BYTES, self._read_offset)
            if not chunk:
                break
            self._read_offset += len(chunk)
            self.bytes_read += len(chunk)
            if self._oversize is not None:
                chunk = self._continue_oversize(chunk)
                if self._oversize is not None:
                    continue
            buf += chunk
            self._split(out)
            if len(buf) > self.max_line_bytes:
                self._begin_oversize()
        if out:
            self._note_tail()
        return out

    def _split(self, out: list[Line]) -> None:
        buf = self._buf
        pos = self._pos
        start = 0
        base = pos.offset
        find = buf.find
        line_no = pos.line
        while True:
            nl = find(b"\n", start)
            if nl < 0:
                break
            end = nl - 1 if nl > start and buf[nl - 1] == 13 else nl  # strip \r
            line_no += 1
            if end - start > self.max_line_bytes:  # whole, but over the limit
                self._oversize_line(bytes(buf[start:end]), line_no, base + start)
            elif end > start:
                out.append(Line(bytes(buf[start:end]), line_no, base + start))
            start = nl + 1
        if start:
            del buf[:start]
            pos.offset = base + start
            pos.line = line_no

    def _oversize_line(self, data: bytes, number: int, offset: int) -> None:
        """A complete line over ``max_line_bytes`` (read in one chunk with others): kept
        whole in a side file and dead-lettered, as one that streamed in would be."""
        blob, f = self._dead.open_oversize(self.path, offset)
        with f:
            f.write(data)
        self._dead.write(
            source=self.path, line=number, offset=offset, raw=b"", kind="oversize",
            reason=f"line of {len(data)} bytes is longer than max_line_bytes "
                   f"({self.max_line_bytes})",
            extra={"blob": str(blob), "length": len(data)})

    def _begin_oversize(self) -> None:
        """The buffered partial line is over the limit: stream it to a side file instead."""
        start = self._pos.offset
        blob, f = self._dead.open_oversize(self.path, start)
        f.write(self._buf)
        self._buf.clear()
        self._oversize = (blob, f, start)

    def _continue_oversize(self, chunk: bytes) -> bytes:
        """Feed ``chunk`` to the over-long line; return what follows its end, if it ended."""
        assert self._oversize is not None
        blob, f, start = self._oversize
        nl = chunk.find(b"\n")
        if nl < 0:
            f.write(chunk)
            return b""
        f.write(chunk[:nl])
        length = f.tell()
        f.close()
        self._oversize = None
        self._pos.line += 1
        self._pos.offset = self._read_offset - len(chunk) + nl + 1
        self._dead.write(
            source=self.path,
            line=self._pos.line,
            offset=start,
            reason=f"line of {length} bytes is longer than max_line_bytes ({self.max_line_bytes})",
            raw=b"",
            kind="oversize",
            extra={"blob": str(blob), "length": length},
        )
        return chunk[nl + 1 :]

    def document_ready(self, settle_seconds: float) -> bool:
        """Whether the file, read as one whole document, is ready now: not empty, not
        read before, and unchanged for ``settle_seconds`` (a document still being written
        is left until it settles). Answers ``True`` once: the committed offset becomes the
        file's size, so a restart does not read it again."""
        st = os.fstat(self._fd)
        if st.st_size == 0 or st.st_size <= self._pos.offset:
            return False
        if time.time() - st.st_mtime < settle_seconds:
            return False
        self._read_offset = self._pos.offset = st.st_size
        self._pos.line = 1
        self.bytes_read += st.st_size
        return True

    @property
    def at_end(self) -> bool:
        """Whether everything the file holds now has been read (a partial last line
        aside)."""
        return os.fstat(self._fd).st_size <= self._read_offset

    def flush_partial(self) -> list[Line]:
        """The unterminated last line, once the file can no longer grow (rotated away)."""
        if self._oversize is not None:  # an over-long last line with no newline: it ends
            self._continue_oversize(b"\n")
            self._pos.offset = self._read_offset
            return []
        if not self._buf:
            return []
        data = bytes(self._buf).rstrip(b"\r")
        self._buf.clear()
        self._pos.line += 1
        line = Line(data, self._pos.line, self._pos.offset)
        self._pos.offset = self._read_offset
        return [line] if data else []

    def close(self) -> None:
        if self._oversize is not None:
            self._oversize[1].close()
            self._oversize = None
        os.close(self._fd)
