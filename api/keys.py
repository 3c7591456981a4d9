"""Keys the API keeps on disk: read, or created once with mode 0600 (never logged)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_KEY_BYTES = 16


def read_or_create_key(path: Path, size: int = 32) -> bytes:
    """The key in ``path``; a new random one written there (0600) when there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(size))
                f.flush()
                os.fsync(f.fileno())
    key = path.read_bytes()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a key needs at least {MIN_KEY_BYTES} bytes")
    return key
