"""Records of which files of a local release directory had their sha256 checked, and are unchanged since.

`pull` (and a successful `verify`) checks every file's sha256 against the manifest, then writes
`DIR/.partverse-verified.json`: per file, the sha256 it matched and the file's size, mtime, ctime
and inode at that moment. A reader asks `verified_files(loc)` which files still match their record:
those need no Parquet page CRC check on read (their bytes are the ones whose sha256 was checked,
as loaders such as MosaicML streaming check hashes at download time, not at every read). Any write
to a file changes its mtime and ctime (ctime cannot be set back by a user), a copy gets a new inode:
such a file is not in the set, and its pages are CRC-checked again. This guards against corruption
(disk rot, a partial copy, an edit), not against someone forging the record.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from pyarrow import fs as pafs

MARKER_NAME = ".partverse-verified.json"


def file_stat(path: str | Path) -> dict[str, int]:
    """What a record keeps of a file: size, mtime, ctime (ns) and inode."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}


def stat_or_none(path: str | Path) -> dict[str, int] | None:
    """`file_stat`, or None when the file cannot be stat-ed (missing, unreadable)."""
    try:
        return file_stat(path)
    except OSError:
        return None


def record_verified(release_dir: str | Path, manifest: dict[str, Any], stats: dict[str, dict[str, int]]) -> None:
    """Record that the files named in `stats` matched the manifest's sha256, with their `file_stat`
    taken before their sha256 was computed (a write during the check then shows). Atomic write."""
    release_dir = Path(release_dir)
    files = {n: {"sha256": manifest["files"][n]["sha256"], **st} for n, st in stats.items()}
    tmp = release_dir / f".{MARKER_NAME}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(json.dumps({"version": manifest["version"], "files": files}, indent=1, sort_keys=True))
    os.replace(tmp, release_dir / MARKER_NAME)


def verified_files(loc) -> dict[str, dict[str, int]]:
    """{name: file_stat} of the files of `loc` (a ReleaseLocation) recorded as sha256-verified and
    unchanged since: only for a local release directory (a published repository or S3 has no record).
    A reader that opens a file later compares its `file_stat` again (`unchanged`)."""
    if not isinstance(loc.filesystem, pafs.LocalFileSystem) or loc.manifest.get("layout") == "blobs":
        return {}
    base = Path(loc.base)
    try:
        record = json.loads((base / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("version") != loc.manifest["version"]:
        return {}
    out = {}
    for name, seen in (record.get("files") or {}).items():
        info = loc.manifest["files"].get(name)
        if not info or seen.get("sha256") != info["sha256"] or seen.get("size") != info["size"]:
            continue
        now = stat_or_none(base / name)
        if now is not None and all(seen.get(k) == v for k, v in now.items()):
            out[name] = now
    return out


def unchanged(path: str | Path, stat: dict[str, int]) -> bool:
    """Whether the file at `path` still has the `file_stat` it had when checked."""
    return stat_or_none(path) == stat
