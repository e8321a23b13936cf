"""Durable file writes and hashing shared by the store, the release writer and the downloaders."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fsync_dir(path: str | Path) -> None:
    """Make a rename inside `path` durable (POSIX: fsync the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    """Write `data` to `target` through a temp file in the same folder, fsync, then rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(target.parent)


def read_json(path: str | Path, what: str):
    """Parsed JSON of `path`; a missing or malformed file raises PartverseError("PATH: cannot read WHAT: ...")."""
    import json

    from partverse.errors import PartverseError

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise PartverseError(f"{path}: cannot read {what}: {exc}") from None
