"""Where the tailer is in each log file, kept so a restart resumes with no line lost or read twice.

A file is recognised by a *fingerprint*: a hash of its first bytes (up to
``FINGERPRINT_BYTES``), as Vector's ``checksum`` strategy does, with the device and inode
as a second key. The fingerprint, not the path or the inode, is what makes rotation safe:

- rename rotation (``access.log`` → ``access.log.1``): the renamed file keeps its first
  bytes, so its position is found again under its new name;
- copytruncate: the copy has the original's first bytes, so the copy resumes at the
  offset already read from the original, and the lines written just before the
  truncation are read from the copy rather than lost;
- inode reuse after delete and re-create: the first bytes differ, so the new file is read
  from the start.

A file shorter than ``FINGERPRINT_BYTES`` has only a *weak* fingerprint, which could also
match another short file with the same first bytes; a weak fingerprint therefore matches
only on the same device and inode too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from typing import Any

FINGERPRINT_BYTES = 1024


def fingerprint(head: bytes) -> str:
    """The fingerprint of a file whose first bytes are ``head``."""
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def read_head(fd: int, length: int = FINGERPRINT_BYTES) -> bytes:
    """The first ``length`` bytes of an open file (fewer if it is shorter)."""
    return os.pread(fd, length, 0)


def tail_fingerprint(fd: int, offset: int) -> str:
    """The fingerprint of the (up to) ``FINGERPRINT_BYTES`` before ``offset``."""
    start = max(0, offset - FINGERPRINT_BYTES)
    return fingerprint(os.pread(fd, offset - start, start)) if offset else ""


@dataclass(slots=True)
class FilePosition:
    """How far one file has been read: everything before ``offset`` is fully processed."""

    path: str
    dev: int
    ino: int
    fp_len: int
    fp: str
    offset: int = 0
    line: int = 0
    #: Fingerprint of the bytes just before ``offset`` (up to ``FINGERPRINT_BYTES``): two
    #: files that start alike (a CSV export's long header) are told apart by it, while a
    #: copy of the file (copytruncate) still matches. Empty in old snapshots.
    tail_fp: str = ""

    @property
    def strong(self) -> bool:
        """Whether the fingerprint covers enough bytes to identify the file on its own."""
        return self.fp_len >= FINGERPRINT_BYTES

    def matches(self, fd: int, st: os.stat_result) -> bool:
        """Whether the open file ``fd`` (with stat ``st``) is the file this position is for."""
        if st.st_size < self.fp_len:
            return False
        same_inode = (st.st_dev, st.st_ino) == (self.dev, self.ino)
        if not self.strong and not same_inode:
            return False
        if fingerprint(read_head(fd, self.fp_len)) != self.fp:
            return False
        if same_inode or not self.tail_fp:
            return True
        # Another inode with the same start: the same file only if it also holds what was
        # read last (a copy), not merely the same header (the next day's export).
        return st.st_size >= self.offset and tail_fingerprint(fd, self.offset) == self.tail_fp

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FilePosition:
        return cls(
            path=str(d["path"]),
            dev=int(d["dev"]),
            ino=int(d["ino"]),
            fp_len=int(d["fp_len"]),
            fp=str(d["fp"]),
            offset=int(d["offset"]),
            line=int(d["line"]),
            tail_fp=str(d.get("tail_fp", "")),
        )


class Checkpoint:
    """The positions of files no longer open (rotated away, or from before a restart).

    Open files keep their own position in their ``Tailer``; a position lands here when its
    tailer closes, and is taken out again when a file matching it turns up. Bounded: the
    oldest positions are forgotten first.
    """

    def __init__(self, positions: list[FilePosition] | None = None, limit: int = 1024) -> None:
        self.limit = limit
        self._positions: list[FilePosition] = list(positions or [])

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._positions))

    def retire(self, position: FilePosition) -> None:
        """Keep ``position`` for when its file appears again (a rotated copy, a restart)."""
        self._positions = [
            p for p in self._positions if not (p.fp == position.fp and p.fp_len == position.fp_len)
        ]
        self._positions.append(position)
        if len(self._positions) > self.limit:
            del self._positions[: len(self._positions) - self.limit]

    def claim(self, fd: int, st: os.stat_result) -> FilePosition | None:
        """The position for the open file ``fd``, removed from the checkpoint, or ``None``.

        When several positions match (a file and its copies), the one furthest along wins.
        """
        best: FilePosition | None = None
        for p in self._positions:
            if p.matches(fd, st) and (best is None or p.offset > best.offset):
                best = p
        if best is not None:
            self._positions.remove(best)
        return best

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self._positions]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> Checkpoint:
        return cls([FilePosition.from_dict(d) for d in items])
