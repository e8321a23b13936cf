"""Content checks run on a finished download before it gets its final name.

Each raises `ContentError(reason, detail)`; the fetcher retries and then reports the reason.
"""
from __future__ import annotations

import gzip
import json
import struct
import zlib
from pathlib import Path

from partverse.objaverse.http import ContentError


def check_glb(path: Path) -> None:
    """A binary glTF: magic "glTF", version 2, header length == file size, first chunk JSON."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"glTF":
        raise ContentError("corrupt_glb", f"{path.name}: not a binary glTF (no 'glTF' magic)")
    version, length, _, chunk_type = struct.unpack("<III4s", head[4:20])
    if version != 2:
        raise ContentError("corrupt_glb", f"{path.name}: glTF version {version}, expected 2")
    if length != size:
        raise ContentError("corrupt_glb", f"{path.name}: header says {length} bytes, file has {size}")
    if chunk_type != b"JSON":
        raise ContentError("corrupt_glb", f"{path.name}: first chunk is {chunk_type!r}, expected b'JSON'")


def load_gzip_json(path: Path):
    """Decode a `.json.gz` file; ContentError("corrupt_gzip") when truncated or not JSON."""
    try:
        with gzip.open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise ContentError("corrupt_gzip", f"{path.name}: {type(exc).__name__}: {exc}") from exc


def check_gzip_json(path: Path) -> None:
    load_gzip_json(path)


def check_parquet(path: Path) -> None:
    """Parquet footer and schema readable."""
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for broken files
        raise ContentError("corrupt_parquet", f"{path.name}: {exc}") from exc


def validator_for(file_type: str):
    """The check for an object file type, or None when the type has no cheap structural check."""
    return {"glb": check_glb}.get(file_type.lower().lstrip("."))
