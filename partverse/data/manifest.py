"""The release manifest: what a release holds, with a sha256 and size per file.

A release directory (or a published version) is a release only once `manifest.json` exists;
it is always written last. Layout of the manifest (JSON):

    {"format": "partverse-release", "format_version": 1,
     "schema_version": "2.0", "version": "1.2.0", "created_at": "2026-...Z", "source_run": "...",
     "num_samples": 4096,
     "tables": {"objects": {"rows": N, "files": ["objects-00000.parquet", ...]}, "parts": ..., "captions": ...},
     "files": {"objects-00000.parquet": {"table": "objects", "shard": 0, "rows": n, "sha256": "...",
               "size": bytes, "first_uid": "...", "last_uid": "..."}, ...},
     "card": {"name": "README.md", "sha256": "...", "size": bytes} | null,
     "stats": {"objects": N, "parts": P, "captions": C, "licences": {...}, "parts_per_object": {...}, ...}}
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from partverse.errors import PartverseError

MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"
FORMAT = "partverse-release"
FORMAT_VERSION = 1
TABLE_NAMES = ("objects", "parts", "captions")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")


class ReleaseError(PartverseError):
    """A release is missing, malformed, or would be overwritten."""


class NotAReleaseError(ReleaseError):
    """A directory or URI has no manifest.json."""


class ReleaseExistsError(ReleaseError):
    """A version already exists with different content; versions are immutable."""


class IntegrityError(ReleaseError):
    """A file's size or sha256 does not match the manifest; the message names the file."""


def check_version(version: str) -> str:
    """Return `version` if it is a semantic version X.Y.Z[-pre], else raise naming it."""
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise ReleaseError(f"version {version!r} is not a semantic version X.Y.Z (e.g. 1.0.0)")
    return version


def version_key(version: str) -> tuple:
    """Sort key for semantic versions (pre-releases before the release)."""
    m = _SEMVER.match(version)
    if not m:
        return (-1, -1, -1, version)
    major, minor, patch, pre = m.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def loads(data: bytes, where: str) -> dict[str, Any]:
    """Parse and sanity-check a manifest; `where` names its location in errors."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{where}: manifest is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReleaseError(f"{where}: not a partverse release manifest (format != {FORMAT!r})")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ReleaseError(
            f"{where}: manifest format {manifest.get('format_version')} is newer than this partverse reads ({FORMAT_VERSION})"
        )
    for key in ("version", "schema_version", "tables", "files"):
        if key not in manifest:
            raise ReleaseError(f"{where}: manifest has no {key!r}")
    return manifest


def table_files(manifest: dict[str, Any], table: str) -> list[str]:
    """File names of one table, in shard order."""
    if table not in manifest["tables"]:
        raise ReleaseError(f"release {manifest['version']} has no table {table!r}; tables: {', '.join(manifest['tables'])}")
    return list(manifest["tables"][table]["files"])
