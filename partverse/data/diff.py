"""What changed between two releases: objects added, removed, and changed (labels, parts, captions, ...).

Shards are content-defined, so a shard with the same sha256 in both releases holds the same rows:
only the shards that differ are read.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from partverse.data import manifest as mf
from partverse.data.location import ReleaseLocation, locate
from partverse.data.reader import read_table

_OBJECT_FIELDS = {
    "labels": ["face_labels", "label_source", "segmentation_method"],
    "geometry": ["sha256", "num_faces", "num_vertices", "transform"],
    "licence": ["license"],
    "metadata": ["source", "source_uri", "metadata_json"],
}
_PART_FIELDS = ["part_id", "name", "face_indices"]
_CAPTION_FIELDS = ["part_id", "brief", "detailed", "relation", "status"]


def _digest(values: list) -> str:
    h = hashlib.sha256()
    for v in values:
        h.update(repr(v).encode())
    return h.hexdigest()


def _changed_shards(a: ReleaseLocation, b: ReleaseLocation, table: str) -> tuple[list[str], list[str]]:
    sha_a = {a.manifest["files"][n]["sha256"]: n for n in mf.table_files(a.manifest, table)}
    sha_b = {b.manifest["files"][n]["sha256"]: n for n in mf.table_files(b.manifest, table)}
    return [n for s, n in sha_a.items() if s not in sha_b], [n for s, n in sha_b.items() if s not in sha_a]


def _object_digests(loc: ReleaseLocation, names: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    cols = ["uid"] + [c for cs in _OBJECT_FIELDS.values() for c in cs]
    for name in names:
        rows = read_table(loc.file_path(name), cols, loc.filesystem).to_pylist()
        for r in rows:
            out[r["uid"]] = {k: _digest([r[c] for c in cs]) for k, cs in _OBJECT_FIELDS.items()}
    return out


def _grouped_digests(loc: ReleaseLocation, names: list[str], cols: list[str]) -> dict[str, str]:
    groups: dict[str, list] = defaultdict(list)
    for name in names:
        for r in read_table(loc.file_path(name), ["uid"] + cols, loc.filesystem).to_pylist():
            groups[r["uid"]].append(tuple(r[c] for c in cols))
    return {u: _digest(sorted(v, key=repr)) for u, v in groups.items()}


def diff_releases(a_uri: str | Path, b_uri: str | Path, a_version: str | None = None, b_version: str | None = None) -> dict[str, Any]:
    """{"from", "to", "added": [uid], "removed": [uid], "changed": {uid: [kinds]}, "shards_compared"}."""
    a, b = locate(a_uri, a_version), locate(b_uri, b_version)
    old_obj, new_obj = _changed_shards(a, b, "objects")
    objs_a, objs_b = _object_digests(a, old_obj), _object_digests(b, new_obj)
    changed: dict[str, list[str]] = defaultdict(list)
    for uid in objs_a.keys() & objs_b.keys():
        changed[uid] += [k for k in _OBJECT_FIELDS if objs_a[uid][k] != objs_b[uid][k]]
    for table, cols, kind in (("parts", _PART_FIELDS, "parts"), ("captions", _CAPTION_FIELDS, "captions")):
        if table not in a.manifest["tables"] or table not in b.manifest["tables"]:
            continue
        na, nb = _changed_shards(a, b, table)
        da, db = _grouped_digests(a, na, cols), _grouped_digests(b, nb, cols)
        for uid in da.keys() | db.keys():
            if da.get(uid) != db.get(uid):
                changed[uid].append(kind)
    added = sorted(objs_b.keys() - objs_a.keys())
    removed = sorted(objs_a.keys() - objs_b.keys())
    gone = set(added) | set(removed)
    return {
        "from": a.version,
        "to": b.version,
        "added": added,
        "removed": removed,
        "changed": {u: sorted(set(k)) for u, k in sorted(changed.items()) if k and u not in gone},
        "shards_compared": len(old_obj) + len(new_obj),
    }
