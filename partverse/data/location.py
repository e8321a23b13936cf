"""Where a release's files are: a plain release directory, or one version of a published repository.

Two layouts:

- release directory (what `write_release` and `pull` produce): `DIR/manifest.json`, `DIR/README.md`,
  `DIR/<table>-<shard>.parquet`;
- published repository (what `release create` produces, local path or s3://):
  `ROOT/<version>/manifest.json` (written last), `ROOT/<version>/README.md`, and shard contents
  stored once by sha256 in `ROOT/blobs/<sha256>.parquet`, shared by every version that has them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyarrow import fs as pafs

from partverse.data import manifest as mf
from partverse.data import storage

BLOB_DIR = "blobs"


@dataclass
class ReleaseLocation:
    uri: str  # what the user gave (with the version appended for a repository)
    filesystem: pafs.FileSystem
    base: str  # folder holding manifest.json
    root: str  # repository root (blobs live under it); == base for a release directory
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def file_path(self, name: str) -> str:
        """Path (inside `filesystem`) of a manifest file by its logical name."""
        if self.manifest.get("layout") == "blobs":
            return blob_path(self.root, self.manifest["files"][name]["sha256"])
        return storage.join(self.base, name)

    def card_path(self) -> str:
        return storage.join(self.base, mf.CARD_NAME)

    def table_paths(self, table: str) -> list[str]:
        return [self.file_path(n) for n in mf.table_files(self.manifest, table)]


def blob_path(root: str, sha256: str) -> str:
    return storage.join(root, BLOB_DIR, f"{sha256}.parquet")


def locate(uri: str | Path, version: str | None = None) -> ReleaseLocation:
    """Find a release: `uri` is a release directory, a version folder, or a repository root + `version`."""
    filesystem, path = storage.resolve(uri)
    candidates = [(storage.join(path, version), path)] if version else []
    candidates.append((path, _parent(path)))
    for base, root in candidates:
        mpath = storage.join(base, mf.MANIFEST_NAME)
        if storage.exists(filesystem, mpath):
            manifest = mf.loads(storage.read_bytes(filesystem, mpath), f"{uri}")
            if version and manifest["version"] != version:
                continue
            if manifest.get("layout") != "blobs":
                root = base
            shown = f"{str(uri).rstrip('/')}/{version}" if base != path else str(uri)
            return ReleaseLocation(shown, filesystem, base, root, manifest)
    if version:
        available = list_versions(uri)
        raise mf.NotAReleaseError(
            f"{uri}: no release {version} (no manifest.json); versions here: {', '.join(available) or 'none'}"
        )
    raise not_a_release(uri, filesystem, path)


def not_a_release(uri: str | Path, filesystem: pafs.FileSystem, path: str) -> mf.NotAReleaseError:
    """The error for a folder without a manifest, saying what it is when that is clear: a build's
    run folder (its release is RUN/release) or a repository root (give a version)."""
    problem = f"{uri}: not a release (no {mf.MANIFEST_NAME}; an interrupted write leaves none)"
    if storage.exists(filesystem, storage.join(path, "release", mf.MANIFEST_NAME)):
        return mf.NotAReleaseError(f"{problem}; it is a build's run folder: its release is {str(uri).rstrip('/')}/release")
    versions = list_versions(uri)
    if versions:
        return mf.NotAReleaseError(f"{problem}; it is a repository of releases: give a version ({', '.join(versions)})")
    return mf.NotAReleaseError(problem)


def _parent(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else path


def list_versions(uri: str | Path) -> list[str]:
    """Versions published under a repository root that have a manifest, oldest first."""
    filesystem, root = storage.resolve(uri)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except (OSError, FileNotFoundError):
        return []
    versions = []
    for info in infos:
        if info.type != pafs.FileType.Directory or info.base_name == BLOB_DIR:
            continue
        if storage.exists(filesystem, storage.join(info.path, mf.MANIFEST_NAME)):
            versions.append(info.base_name)
    return sorted(versions, key=mf.version_key)
