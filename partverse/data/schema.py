"""Arrow schemas of the release tables (objects, parts, captions), with their version.

The version is stored in every shard's schema metadata (`partverse.schema_version`).
Readers refuse a shard whose major version they do not know (`check_schema_version`).
JSON copies live in `schemas/` (regenerate with `python -m partverse.data.schema`).
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from partverse.errors import PartverseError

SCHEMA_VERSION = "1.1"  # 1.1: parts.renders
NUM_SAMPLES = 4096  # surface samples per part (points + normals)

_vec3 = pa.list_(pa.float32(), 3)
# non-nullable elements: Parquet then stores no definition level per float, which reads ~30% faster
_f32 = pa.field("element", pa.float32(), nullable=False)


class SchemaVersionError(PartverseError):
    pass


def _meta(table: str) -> dict[bytes, bytes]:
    return {b"partverse.schema_version": SCHEMA_VERSION.encode(), b"partverse.table": table.encode()}


def objects_schema() -> pa.Schema:
    return pa.schema(
        [
            ("uid", pa.string()),
            ("sha256", pa.string()),
            ("source", pa.string()),
            ("source_uri", pa.string()),
            ("license", pa.string()),
            ("metadata_json", pa.string()),
            ("num_faces", pa.int64()),
            ("num_vertices", pa.int64()),
            ("num_parts", pa.int32()),
            ("label_source", pa.string()),  # "auto" | "human"
            ("segmentation_method", pa.string()),
            ("segmentation_params_json", pa.string()),
            ("face_labels", pa.list_(pa.int32())),  # (F,) in the face order of `partverse.io.load`
            ("transform", pa.list_(pa.float64(), 16)),  # normalized frame -> file frame, row-major 4x4
            ("normalized_glb", pa.binary()),
        ],
        metadata=_meta("objects"),
    )


def parts_schema(num_samples: int = NUM_SAMPLES) -> pa.Schema:
    return pa.schema(
        [
            ("uid", pa.string()),
            ("part_id", pa.int32()),
            ("name", pa.string()),
            ("license", pa.string()),
            ("num_faces", pa.int64()),
            ("face_indices", pa.list_(pa.int32())),
            ("bbox_min", _vec3),
            ("bbox_max", _vec3),
            ("points", pa.list_(_f32, 3 * num_samples)),  # (N, 3) row-major
            ("normals", pa.list_(_f32, 3 * num_samples)),
            ("glb", pa.binary()),
            ("renders", pa.list_(pa.struct([("view", pa.string()), ("png", pa.binary())]))),
        ],
        metadata={**_meta("parts"), b"partverse.num_samples": str(num_samples).encode()},
    )


def captions_schema() -> pa.Schema:
    return pa.schema(
        [
            ("uid", pa.string()),
            ("part_id", pa.int32()),  # -1: the whole object
            ("brief", pa.string()),
            ("detailed", pa.string()),
            ("relation", pa.string()),
            ("status", pa.string()),  # "ok" | flag naming the problem
            ("backend", pa.string()),
            ("model", pa.string()),
            ("prompt_version", pa.string()),
            ("image_sha256", pa.string()),
        ],
        metadata=_meta("captions"),
    )


TABLES = {"objects": objects_schema, "parts": parts_schema, "captions": captions_schema}


def check_schema_version(schema: pa.Schema, where: str) -> str:
    """Return the shard's schema version, or raise naming the version found and the one supported."""
    meta = schema.metadata or {}
    found = meta.get(b"partverse.schema_version", b"").decode() or "none"
    if found.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise SchemaVersionError(
            f"{where}: schema version {found} is not supported; this partverse reads {SCHEMA_VERSION.split('.')[0]}.x "
            f"(it writes {SCHEMA_VERSION})"
        )
    return found


def write_json_schemas(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, make in TABLES.items():
        schema = make()
        fields = [{"name": f.name, "type": str(f.type)} for f in schema]
        doc = {"table": name, "schema_version": SCHEMA_VERSION, "fields": fields}
        (out_dir / f"{name}.schema.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    write_json_schemas(Path(__file__).resolve().parents[2] / "schemas")
