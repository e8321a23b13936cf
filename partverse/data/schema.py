"""Arrow schemas of the release tables (objects, parts, captions), with their version.

The version is stored in every shard's schema metadata (`partverse.schema_version`).
Readers refuse a shard whose major version they do not know (`check_schema_version`); this
partverse reads 1.x and 2.x shards and writes 2.x.
JSON copies live in `schemas/` (regenerate with `python -m partverse.data.schema`).

Schema 2.0 stores the surface samples `parts.points` / `parts.normals` as one binary value per part:
the raw little-endian float32 bytes of an (N, 3) row-major array (N = `num_samples`, in the schema
metadata `partverse.num_samples` and in each field's metadata `partverse.dtype` = "<f4",
`partverse.shape` = "[N, 3]"). Decode a value with `decode_samples` or, without partverse,
`numpy.frombuffer(value, "<f4").reshape(-1, 3)` (HF `datasets` yields these values as `bytes`).
Version 1.x stored them as fixed_size_list<float32>[3N], which Parquet encodes as a repeated
field with a level per float: decoding it was ~5x slower than reading the bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from partverse.errors import PartverseError

SCHEMA_VERSION = "2.0"  # 1.1: parts.renders; 2.0: samples as raw float32 bytes (binary)
READ_MAJORS = ("1", "2")  # major versions this partverse reads
SAMPLE_COLUMNS = ("points", "normals")
SAMPLE_DTYPE = "<f4"
NUM_SAMPLES = 4096  # surface samples per part (points + normals)

_vec3 = pa.list_(pa.float32(), 3)


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


def sample_field(name: str, num_samples: int) -> pa.Field:
    """A surface-samples column: binary values of N * 12 bytes, required (no nulls: Parquet then
    stores no definition levels and a page is just the values)."""
    meta = {b"partverse.dtype": SAMPLE_DTYPE.encode(), b"partverse.shape": f"[{num_samples}, 3]".encode()}
    return pa.field(name, pa.binary(), nullable=False, metadata=meta)


def decode_samples(value: bytes | memoryview, where: str = "samples") -> np.ndarray:
    """One stored points / normals value (schema 2.x) -> (N, 3) float32 (a view of the bytes)."""
    if len(value) % 12:
        raise SchemaVersionError(f"{where}: {len(value)} bytes is not a whole number of float32 xyz samples")
    return np.frombuffer(value, SAMPLE_DTYPE).reshape(-1, 3)


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
            sample_field("points", num_samples),  # (N, 3) float32, raw bytes
            sample_field("normals", num_samples),
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
    if found.split(".")[0] not in READ_MAJORS:
        readable = " and ".join(f"{m}.x" for m in READ_MAJORS)
        raise SchemaVersionError(
            f"{where}: schema version {found} is not supported; this partverse reads {readable} "
            f"(it writes {SCHEMA_VERSION}); upgrade partverse to read it"
        )
    return found


def write_json_schemas(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, make in TABLES.items():
        schema = make()
        fields = [{"name": f.name, "type": str(f.type)} for f in schema]
        for doc_field, f in zip(fields, schema):
            if f.metadata:
                doc_field["metadata"] = {k.decode(): v.decode() for k, v in sorted(f.metadata.items())}
            if not f.nullable:
                doc_field["nullable"] = False
        doc = {"table": name, "schema_version": SCHEMA_VERSION, "fields": fields}
        (out_dir / f"{name}.schema.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    write_json_schemas(Path(__file__).resolve().parents[2] / "schemas")
