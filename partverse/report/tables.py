"""The release tables the report needs, read through the release reader (schema version checked)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OBJECT_COLUMNS = ["uid", "source", "license", "metadata_json", "num_faces", "num_vertices", "num_parts",
                  "label_source", "segmentation_method"]
PART_COLUMNS = ["uid", "part_id", "name", "num_faces", "bbox_min", "bbox_max"]
CAPTION_COLUMNS = ["uid", "part_id", "brief", "detailed", "status"]
CATEGORY_KEYS = ("category", "categories", "class", "label")


@dataclass
class ReleaseTables:
    manifest: dict[str, Any]
    objects: pa.Table
    parts: pa.Table
    captions: pa.Table


def load_tables(release: str | Path) -> ReleaseTables:
    """Manifest and the light columns of objects / parts / captions (no meshes, samples or images)."""
    from partverse.data.reader import read_manifest, read_release_table

    manifest = read_manifest(release)
    tables = {name: read_release_table(release, name, cols) for name, cols in
              (("objects", OBJECT_COLUMNS), ("parts", PART_COLUMNS), ("captions", CAPTION_COLUMNS))}
    return ReleaseTables(manifest, **tables)


def category(metadata_json: str | None) -> str:
    """The object's category from its metadata (first of CATEGORY_KEYS present), else '(none)'."""
    try:
        meta = json.loads(metadata_json or "{}")
    except json.JSONDecodeError:
        return "(bad metadata)"
    for key in CATEGORY_KEYS:
        value = meta.get(key) if isinstance(meta, dict) else None
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "(none)"


def object_rows(release: str | Path, uids: list[str], columns: list[str]) -> dict[str, dict[str, Any]]:
    """Rows of `uids` from the objects table (heavy columns such as normalized_glb), shard by shard."""
    from partverse.data.location import locate
    from partverse.data.reader import read_table

    where = locate(release)
    wanted = pa.array(sorted(set(uids)), pa.string())
    found: dict[str, dict[str, Any]] = {}
    for path in where.table_paths("objects"):
        table = read_table(path, ["uid", *columns], where.filesystem)
        table = table.filter(pc.is_in(table["uid"], value_set=wanted))
        for row in table.to_pylist():
            found[row["uid"]] = row
    return found


def part_rows(release: str | Path, uids: list[str]) -> dict[tuple[str, int], list[dict]]:
    """The stored renders (highlight composites) of the parts of `uids`: {(uid, part_id): renders}."""
    from partverse.data.reader import read_release_table

    table = read_release_table(release, "parts", ["uid", "part_id", "renders"])
    table = table.filter(pc.is_in(table["uid"], value_set=pa.array(sorted(set(uids)), pa.string())))
    return {(r["uid"], int(r["part_id"])): r["renders"] or [] for r in table.to_pylist()}


def words(texts: list[str | None]) -> np.ndarray:
    """Word counts of captions (None counts as 0): (N,) int64."""
    return np.array([len(t.split()) if t else 0 for t in texts], dtype=np.int64)
