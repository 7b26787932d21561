"""sha256 of files: cache keys, download checks and checkpoint integrity use the same routine."""

from __future__ import annotations

import hashlib
from pathlib import Path


def update_from_file(h: hashlib._Hash, path: Path) -> None:
    """Feed a file's bytes into ``h`` in 1 MiB blocks (large files never sit in memory)."""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    update_from_file(h, path)
    return h.hexdigest()
