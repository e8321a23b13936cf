"""Write a release directory: deterministic Parquet shards of objects / parts / captions + manifest.

`write_release(out_dir, objects, parts, captions, version=...)` takes rows as dicts keyed by the
schema columns (`partverse.data.schema`); array columns accept numpy arrays ((N, 3) points are
flattened row-major). Shards:

- rows sorted by (uid, part_id); the same rows always give byte-identical files (no timestamps);
- objects are cut into shards at content-defined boundaries (a hash of the uid decides whether an
  object ends a shard, with probability parts/rows_per_shard), so changing or adding a few objects
  changes only the shards that hold them: incremental releases reuse the others unchanged;
- shard i of every table covers the same uid range: `objects-0000i`, `parts-0000i`, `captions-0000i`;
- files are written to a staging folder and renamed into place; `manifest.json` is written last,
  so a directory without it is not a release. An existing version is never overwritten (writing
  identical content again returns the existing manifest).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from partverse.fsutil import fsync_dir
from partverse.data import manifest as mf
from partverse.data.schema import NUM_SAMPLES, SCHEMA_VERSION, TABLES, parts_schema

DEFAULT_ROWS_PER_SHARD = 2048  # target parts rows per shard (~200 MB of samples at 4096 points)
UNCOMPRESSED = ("points", "normals")
DEFAULT_ROW_GROUP_ROWS = 64  # rows per row group: the unit a streaming reader fetches
_HASH_SPACE = float(2**64)


class WriterError(mf.ReleaseError):
    """Rows that cannot be written: the message names the table, the uid and the problem."""


# ---------------------------------------------------------------- rows -> Arrow


class _RowError(Exception):
    def __init__(self, index: int, reason: str):
        self.index, self.reason = index, reason


def rows_to_table(table: str, rows: Iterable[dict[str, Any]], num_samples: int | None = None) -> pa.Table:
    """Convert row dicts of one release table to an Arrow table with the release schema.

    Missing keys become nulls; unknown keys are an error naming them. For `parts`, the number of
    surface samples is taken from the first row with points unless `num_samples` is given.
    """
    rows = list(rows)
    if table == "parts":
        num_samples = num_samples or _infer_num_samples(rows)
        schema = parts_schema(num_samples)
    else:
        schema = TABLES[table]()
    known = set(schema.names)
    for row in rows:
        extra = set(row) - known
        if extra:
            raise WriterError(f"{table} row uid={row.get('uid')!r}: unknown columns {sorted(extra)}; known: {schema.names}")
        if not row.get("uid"):
            raise WriterError(f"{table} row {row!r:.120}: missing uid")
    arrays = [_column(table, field, [row.get(field.name) for row in rows], rows) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _infer_num_samples(rows: list[dict]) -> int:
    for row in rows:
        if row.get("points") is not None:
            size = np.asarray(row["points"]).size
            if size % 3:
                raise WriterError(f"parts row uid={row.get('uid')!r}: points has {size} values, not a multiple of 3")
            return size // 3
    return NUM_SAMPLES


def _column(table: str, field: pa.Field, values: list, rows: list[dict]) -> pa.Array:
    t = field.type
    try:
        if pa.types.is_fixed_size_list(t):
            return _fixed_list(values, t)
        if pa.types.is_list(t) and pa.types.is_integer(t.value_type):
            return _int_list(values, t)
        if field.name == "renders":
            values = [_renders(v) for v in values]
        if pa.types.is_string(t):
            values = [None if v is None else str(v) for v in values]
        return pa.array(values, type=t)
    except _RowError as exc:
        row = rows[exc.index]
        raise WriterError(f"{table}.{field.name} (uid={row.get('uid')!r}, part_id={row.get('part_id')!r}): {exc.reason}") from None
    except (pa.ArrowException, ValueError, TypeError) as exc:
        bad = _first_bad(field, values, rows)
        raise WriterError(f"{table}.{field.name}{bad}: cannot store as {t}: {exc}") from exc


def _first_bad(field: pa.Field, values: list, rows: list[dict]) -> str:
    for value, row in zip(values, rows):
        try:
            pa.array([value], type=field.type)
        except Exception:
            return f" (uid={row.get('uid')!r}, part_id={row.get('part_id')!r})"
    return ""


def _fixed_list(values: list, t: pa.FixedSizeListType) -> pa.Array:
    size, dtype = t.list_size, t.value_type.to_pandas_dtype()
    flat = np.zeros((len(values), size), dtype=dtype)
    valid = np.ones(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            valid[i] = False
            continue
        a = np.asarray(v, dtype=dtype).reshape(-1)
        if a.size != size:
            raise _RowError(i, f"{a.size} values, the column holds exactly {size}")
        flat[i] = a
    mask = None if valid.all() else pa.array(~valid)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), type=t, mask=mask)


def _int_list(values: list, t: pa.ListType) -> pa.Array:
    dtype = t.value_type.to_pandas_dtype()
    parts = [np.zeros(0, dtype) if v is None else np.asarray(v).astype(dtype, copy=False).reshape(-1) for v in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    mask = pa.array([v is None for v in values]) if any(v is None for v in values) else None
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), type=t, mask=mask)


def _renders(value: Any) -> list[dict] | None:
    """Renders as {view: png_bytes} or [{"view", "png"}] -> the list-of-struct form."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [{"view": k, "png": value[k]} for k in sorted(value)]
    return list(value)


# ---------------------------------------------------------------- sharding


def _sorted(table: pa.Table) -> pa.Table:
    keys = [("uid", "ascending")] + ([("part_id", "ascending")] if "part_id" in table.column_names else [])
    return table.sort_by(keys)


def _ends_shard(uid: str, weight: int, rows_per_shard: int) -> bool:
    h = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big")
    return h < _HASH_SPACE * min(1.0, max(1, weight) / rows_per_shard)


def shard_boundaries(uids: list[str], weights: list[int], rows_per_shard: int) -> list[tuple[int, int]]:
    """Cut sorted object uids into shards [(start, stop), ...] at content-defined boundaries.

    An object ends a shard when a hash of its uid falls under weight/rows_per_shard (weight =
    its parts), or when the shard reaches 2 * rows_per_shard parts: boundaries depend on the
    objects themselves, not on their positions, so unchanged regions keep their shards.
    """
    if rows_per_shard < 1:
        raise WriterError(f"rows_per_shard={rows_per_shard}: must be >= 1")
    cuts, start, acc = [], 0, 0
    for i, (uid, w) in enumerate(zip(uids, weights)):
        acc += max(1, w)
        if _ends_shard(uid, w, rows_per_shard) or acc >= 2 * rows_per_shard:
            cuts.append((start, i + 1))
            start, acc = i + 1, 0
    if start < len(uids) or not cuts:
        cuts.append((start, len(uids)))
    return cuts


def _uid_slices(table: pa.Table, first: str, last: str) -> pa.Table:
    uids = np.asarray(table.column("uid").to_pylist(), dtype=object)
    lo = int(np.searchsorted(uids, first, side="left"))
    hi = int(np.searchsorted(uids, last, side="right"))
    return table.slice(lo, hi - lo)


# ---------------------------------------------------------------- files


def _leaf_paths(schema: pa.Schema) -> list[tuple[str, str]]:
    """(top-level column, Parquet leaf path) pairs, e.g. ("points", "points.list.element")."""
    buf = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), buf)
    pschema = pq.ParquetFile(pa.BufferReader(buf.getvalue())).schema
    return [(pschema.column(i).path.split(".")[0], pschema.column(i).path) for i in range(len(pschema))]


def write_parquet(table: pa.Table, path: Path, row_group_rows: int) -> None:
    """Deterministic Parquet file (same table -> same bytes): zstd, page CRCs, no timestamps.

    Surface samples are stored plain and uncompressed: they barely compress (~8%) and dictionary
    or zstd decoding would halve read speed. Strings get dictionaries.
    """
    leaves = _leaf_paths(table.schema)
    types = {f.name: f.type for f in table.schema}
    pq.write_table(
        table,
        path,
        row_group_size=max(1, row_group_rows),
        compression={leaf: "none" if col in UNCOMPRESSED else "zstd" for col, leaf in leaves},
        use_dictionary=[leaf for col, leaf in leaves if pa.types.is_string(types[col])],
        write_statistics=["uid", "part_id"] if "part_id" in table.column_names else ["uid"],
        write_page_checksum=True,
        store_schema=True,
    )


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest(), path.stat().st_size


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _clean_stale_staging(out_dir: Path) -> None:
    for d in out_dir.glob(".staging-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


# ---------------------------------------------------------------- stats


def release_stats(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Counts for the manifest and the dataset card."""
    objects, parts = tables["objects"], tables["parts"]
    licences = Counter(v if v else "unknown" for v in objects.column("license").to_pylist())
    per_object = Counter(v or 0 for v in objects.column("num_parts").to_pylist())
    label_source = Counter(v or "unknown" for v in objects.column("label_source").to_pylist())
    sources = Counter(v or "unknown" for v in objects.column("source").to_pylist())
    faces = pc.sum(objects.column("num_faces")).as_py() or 0
    return {
        "objects": objects.num_rows,
        "parts": parts.num_rows,
        "captions": tables["captions"].num_rows,
        "faces": int(faces),
        "licences": dict(sorted(licences.items())),
        "parts_per_object": {str(k): per_object[k] for k in sorted(per_object)},
        "label_source": dict(sorted(label_source.items())),
        "sources": dict(sorted(sources.items())),
    }


# ---------------------------------------------------------------- release


def write_release(
    out_dir: str | Path,
    objects: Iterable[dict[str, Any]],
    parts: Iterable[dict[str, Any]],
    captions: Iterable[dict[str, Any]] = (),
    *,
    version: str,
    source_run: str | None = None,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    num_samples: int | None = None,
) -> dict[str, Any]:
    """Write a release directory from row dicts; return the manifest (also in out_dir/manifest.json).

    objects: dicts keyed by `objects_schema()` columns; parts: `parts_schema()`; captions:
    `captions_schema()`. Every part and caption must belong to an object. `num_parts` of an
    object is filled from its parts when missing.
    """
    tables = {
        "objects": rows_to_table("objects", objects),
        "parts": rows_to_table("parts", parts, num_samples),
        "captions": rows_to_table("captions", captions),
    }
    return write_release_tables(
        out_dir, tables, version=version, source_run=source_run, rows_per_shard=rows_per_shard, row_group_rows=row_group_rows
    )


def _fill_num_parts(objects: pa.Table, parts: pa.Table) -> pa.Table:
    counts = Counter(parts.column("uid").to_pylist())
    current = objects.column("num_parts").to_pylist()
    filled = [c if c is not None else counts.get(u, 0) for u, c in zip(objects.column("uid").to_pylist(), current)]
    idx = objects.schema.get_field_index("num_parts")
    return objects.set_column(idx, objects.schema.field(idx), pa.array(filled, pa.int32()))


def _check_tables(tables: dict[str, pa.Table]) -> None:
    uids = tables["objects"].column("uid").to_pylist()
    dupes = [u for u, n in Counter(uids).items() if n > 1]
    if dupes:
        raise WriterError(f"objects: duplicate uid(s) {dupes[:5]}")
    known = set(uids)
    for name in ("parts", "captions"):
        t = tables[name]
        orphans = sorted(set(t.column("uid").to_pylist()) - known)
        if orphans:
            raise WriterError(f"{name}: rows for uid(s) {orphans[:5]} that are not in objects")
        keys = list(zip(t.column("uid").to_pylist(), t.column("part_id").to_pylist()))
        dup = [k for k, n in Counter(keys).items() if n > 1]
        if dup:
            raise WriterError(f"{name}: duplicate (uid, part_id) {dup[:5]}")


def write_release_tables(
    out_dir: str | Path,
    tables: dict[str, pa.Table],
    *,
    version: str,
    source_run: str | None = None,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Like `write_release`, from Arrow tables with the release schemas (`extra` goes into the manifest)."""
    mf.check_version(version)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(out_dir)
    tables = {name: _sorted(tables[name]) for name in mf.TABLE_NAMES}
    tables["objects"] = _fill_num_parts(tables["objects"], tables["parts"])
    _check_tables(tables)

    staging = out_dir / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        files, table_index = _write_shards(staging, tables, rows_per_shard, row_group_rows)
        num_samples = tables["parts"].schema.metadata.get(b"partverse.num_samples", str(NUM_SAMPLES).encode()).decode()
        manifest = {
            "format": mf.FORMAT,
            "format_version": mf.FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "version": version,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source_run": source_run,
            "num_samples": int(num_samples),
            "rows_per_shard": rows_per_shard,
            "row_group_rows": row_group_rows,
            "tables": table_index,
            "files": files,
            "card": None,
            "stats": release_stats(tables),
            **(extra or {}),
        }
        existing = out_dir / mf.MANIFEST_NAME
        if existing.exists():
            return _same_or_raise(existing, manifest)
        _move_into_place(staging, out_dir, files)
        publish_manifest_local(out_dir, manifest)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_shards(staging: Path, tables: dict[str, pa.Table], rows_per_shard: int, row_group_rows: int):
    objects = tables["objects"]
    uids = objects.column("uid").to_pylist()
    weights = objects.column("num_parts").to_pylist()
    cuts = shard_boundaries(uids, weights, rows_per_shard) if uids else [(0, 0)]
    files: dict[str, dict] = {}
    index = {name: {"rows": tables[name].num_rows, "files": []} for name in mf.TABLE_NAMES}
    for shard, (start, stop) in enumerate(cuts):
        first, last = (uids[start], uids[stop - 1]) if stop > start else ("", "")
        for name in mf.TABLE_NAMES:
            piece = objects.slice(start, stop - start) if name == "objects" else (
                _uid_slices(tables[name], first, last) if stop > start else tables[name].slice(0, 0)
            )
            fname = f"{name}-{shard:05d}.parquet"
            path = staging / fname
            write_parquet(piece, path, row_group_rows)
            sha, size = file_digest(path)
            files[fname] = {
                "table": name, "shard": shard, "rows": piece.num_rows, "sha256": sha, "size": size,
                "first_uid": first, "last_uid": last,
            }
            index[name]["files"].append(fname)
            _failpoint_delay()
    return files, index


def _failpoint_delay() -> None:
    """Crash-test aid: `PARTVERSE_FAILPOINT_SHARD_DELAY_S` seconds of sleep after each staged shard,
    so a test can kill a build deterministically in the middle of a release write."""
    delay = os.environ.get("PARTVERSE_FAILPOINT_SHARD_DELAY_S")
    if delay:
        time.sleep(float(delay))


def _same_or_raise(existing: Path, manifest: dict) -> dict:
    old = mf.loads(existing.read_bytes(), str(existing))
    same = old["version"] == manifest["version"] and {k: v["sha256"] for k, v in old["files"].items()} == {
        k: v["sha256"] for k, v in manifest["files"].items()
    }
    if not same:
        raise mf.ReleaseExistsError(
            f"{existing.parent}: release {old['version']} already exists with different content; "
            f"versions are immutable, write {manifest['version']!r} elsewhere or choose a new version"
        )
    return old


def _move_into_place(staging: Path, out_dir: Path, files: dict) -> None:
    # shards left by a crashed earlier attempt (no manifest) are not a release: replace them
    for table in mf.TABLE_NAMES:
        for stale in out_dir.glob(f"{table}-*.parquet"):
            if stale.name not in files:
                stale.unlink()
    for name in files:
        _fsync_file(staging / name)
        os.replace(staging / name, out_dir / name)
    fsync_dir(out_dir)


def publish_manifest_local(out_dir: Path, manifest: dict) -> None:
    """Write manifest.json atomically and without overwriting (link fails if it exists)."""
    tmp = out_dir / f".manifest-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_bytes(mf.dumps(manifest))
    _fsync_file(tmp)
    try:
        os.link(tmp, out_dir / mf.MANIFEST_NAME)
    except FileExistsError as exc:
        raise mf.ReleaseExistsError(f"{out_dir}: manifest.json already exists; versions are immutable") from exc
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(out_dir)
