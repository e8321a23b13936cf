"""Content-addressed file store: `<root>/<aa>/<bb>/<sha256>`, written atomically, read by hash only.

Names are checked against `^[0-9a-f]{64}$` before any path is built, so no request can reach a
file outside the store.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobNameError(ValueError):
    pass


class BlobStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise BlobNameError(f"{sha256[:80]!r} is not a sha256 hex digest (64 lowercase hex characters)")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.is_file():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()
