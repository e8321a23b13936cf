"""A content-addressed store of raw asset files, keyed by sha256, written atomically.

Layout: `ROOT/<h[:2]>/<h>/<file name>` (plus the sidecar files of multi-file formats, at their
relative paths) and `ROOT/<h[:2]>/<h>/entry.json` naming the main file. An entry is built in
`ROOT/.tmp/` and renamed into place in one step, so a crash never leaves a half-written entry.
Putting content that is already there is a no-op reported as a duplicate.

The hash `h` of a single file is its sha256. For a file with sidecars (a .gltf with its .bin and
images, an .obj with its .mtl and textures) it is the sha256 of the lines
`<sha256 of file>  <relative path>` over all files, main file first, sidecars sorted.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from partverse.fsutil import atomic_write_bytes, file_sha256, fsync_dir  # noqa: F401 (re-exported)
from partverse.errors import PartverseError


class StoreError(PartverseError):
    pass


@dataclass(frozen=True)
class StoreEntry:
    sha256: str
    path: Path  # the main file inside the store
    created: bool  # False: the content was already in the store (a duplicate)


def bundle_sha256(main: Path, sidecars: dict[str, Path]) -> str:
    """sha256 of a file, or of a file with its sidecars (relative path -> file)."""
    main_hash = file_sha256(main)
    if not sidecars:
        return main_hash
    lines = [f"{main_hash}  {main.name}"]
    lines += [f"{file_sha256(p)}  {rel}" for rel, p in sorted(sidecars.items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class ContentStore:
    """Files addressed by sha256 under `root` (a local directory)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def entry_dir(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise StoreError(f"{sha256!r}: not a lower-case hex sha256")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return (self.entry_dir(sha256) / "entry.json").is_file()

    def path(self, sha256: str) -> Path:
        """The main file of an entry; raises StoreError if the entry is absent."""
        entry = self.entry_dir(sha256) / "entry.json"
        if not entry.is_file():
            raise StoreError(f"{sha256}: not in the store at {self.root}")
        return entry.parent / json.loads(entry.read_text())["main"]

    def put_file(self, main: str | Path, sidecars: dict[str, Path] | None = None) -> StoreEntry:
        """Copy a file (and its sidecars, relative path -> file) into the store."""
        main, sidecars = Path(main), dict(sidecars or {})
        if not main.is_file():
            raise StoreError(f"{main}: no such file")
        sha = bundle_sha256(main, sidecars)
        if self.has(sha):
            return StoreEntry(sha, self.path(sha), created=False)
        files = {main.name: main, **sidecars}
        return self._commit(sha, main.name, lambda tmp: [_copy(src, tmp / rel) for rel, src in files.items()])

    def put_bytes(self, data: bytes, filename: str) -> StoreEntry:
        """Store one file given as bytes (e.g. a download) under `filename`."""
        sha = hashlib.sha256(data).hexdigest()
        if self.has(sha):
            return StoreEntry(sha, self.path(sha), created=False)
        return self._commit(sha, filename, lambda tmp: (tmp / filename).write_bytes(data))

    def verify(self, sha256: str) -> bool:
        """Re-hash an entry's files and compare with its address."""
        main = self.path(sha256)
        entry = json.loads((main.parent / "entry.json").read_text())
        sidecars = {rel: main.parent / rel for rel in entry.get("sidecars", [])}
        return bundle_sha256(main, sidecars) == sha256

    def _commit(self, sha: str, main_name: str, fill) -> StoreEntry:
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        try:
            fill(tmp)
            sidecars = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file() and p.name != main_name)
            (tmp / "entry.json").write_text(json.dumps({"sha256": sha, "main": main_name, "sidecars": sidecars}))
            for p in tmp.rglob("*"):
                if p.is_file():
                    with open(p, "rb") as f:
                        os.fsync(f.fileno())
            final = self.entry_dir(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(sha):  # a concurrent writer may have won the race
                    raise
                return StoreEntry(sha, self.path(sha), created=False)
            fsync_dir(final.parent)
            return StoreEntry(sha, final / main_name, created=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def clean_temp(self) -> int:
        """Remove entries left half-built by a crash; returns how many."""
        tmp_root = self.root / ".tmp"
        if not tmp_root.is_dir():
            return 0
        stale = list(tmp_root.iterdir())
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
