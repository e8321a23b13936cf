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
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from partverse.fsutil import fsync_dir
from partverse.data import manifest as mf
from partverse.data.convert import WriterError, _infer_num_samples, rows_to_table
from partverse.data.schema import NUM_SAMPLES, SAMPLE_COLUMNS, SCHEMA_VERSION, TABLES, captions_schema, objects_schema, parts_schema

DEFAULT_ROWS_PER_SHARD = 2048  # target parts rows per shard (~200 MB of samples at 4096 points)
UNCOMPRESSED = ("points", "normals")
# parts columns read per shard by every loader (ids, names, boxes: a few bytes a row): stored
# uncompressed, since a zstd decode per 64-row column chunk costs more than the bytes it saves
PARTS_SMALL_UNCOMPRESSED = ("uid", "part_id", "name", "license", "num_faces", "bbox_min", "bbox_max")
DEFAULT_ROW_GROUP_ROWS = 64  # rows per row group: the unit a streaming reader fetches
# captions are a few hundred bytes a row and read a whole shard at a time (joined to the parts shard):
# one big row group per shard instead of many small ones (each costs a zstd decode per column)
CAPTIONS_ROW_GROUP_ROWS = 1 << 14
_HASH_SPACE = float(2**64)
_PAGE_BYTES = 1 << 30  # no page split inside a column chunk (Parquet pages are < 2 GiB)


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


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Deterministic Parquet options (same rows -> same bytes): zstd, page CRCs, no timestamps.

    Surface samples are stored plain and uncompressed: float noise barely compresses (~8%) and
    zstd or dictionaries would add a decode pass. Strings get dictionaries. Pages are as large as
    the column chunk (one page per column per row group), so a samples chunk is one header + values.
    """
    leaves = _leaf_paths(schema)
    types = {f.name: f.type for f in schema}
    plain = UNCOMPRESSED + (PARTS_SMALL_UNCOMPRESSED if (schema.metadata or {}).get(b"partverse.table") == b"parts" else ())
    return dict(
        compression={leaf: "none" if col in plain else "zstd" for col, leaf in leaves},
        use_dictionary=[leaf for col, leaf in leaves if pa.types.is_string(types[col])],
        write_statistics=["uid", "part_id"] if "part_id" in schema.names else ["uid"],
        write_page_checksum=True,
        store_schema=True,
        data_page_size=_PAGE_BYTES,
    )


def table_row_group_rows(table: str, row_group_rows: int) -> int:
    """Rows per row group of `table`'s shards: `row_group_rows` (objects, parts), or the captions size."""
    return CAPTIONS_ROW_GROUP_ROWS if table == "captions" else max(1, row_group_rows)


def write_parquet(table: pa.Table, path: Path, row_group_rows: int) -> None:
    """A whole table as one deterministic Parquet file (`parquet_options`), row groups of `row_group_rows`."""
    writer = pq.ParquetWriter(path, table.schema, **parquet_options(table.schema))
    try:
        step = max(1, row_group_rows)
        for start in range(0, table.num_rows, step):
            piece = table.slice(start, step)
            writer.write_table(piece, row_group_size=piece.num_rows)
    finally:
        writer.close()


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


class ReleaseStats:
    """Counts for the manifest and the dataset card, accumulated object by object."""

    def __init__(self) -> None:
        self.objects = self.parts = self.captions = self.faces = 0
        self.licences: Counter = Counter()
        self.per_object: Counter = Counter()
        self.label_source: Counter = Counter()
        self.sources: Counter = Counter()

    def add_object(self, obj: dict[str, Any]) -> None:
        self.objects += 1
        self.licences[obj.get("license") or "unknown"] += 1
        self.per_object[obj.get("num_parts") or 0] += 1
        self.label_source[obj.get("label_source") or "unknown"] += 1
        self.sources[obj.get("source") or "unknown"] += 1
        self.faces += int(obj.get("num_faces") or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "parts": self.parts,
            "captions": self.captions,
            "faces": int(self.faces),
            "licences": dict(sorted(self.licences.items())),
            "parts_per_object": {str(k): self.per_object[k] for k in sorted(self.per_object)},
            "label_source": dict(sorted(self.label_source.items())),
            "sources": dict(sorted(self.sources.items())),
        }


def release_stats(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Counts for the manifest and the dataset card, from whole tables."""
    stats = ReleaseStats()
    for obj in tables["objects"].select(["license", "num_parts", "label_source", "source", "num_faces"]).to_pylist():
        stats.add_object(obj)
    stats.parts, stats.captions = tables["parts"].num_rows, tables["captions"].num_rows
    return stats.as_dict()


# ---------------------------------------------------------------- shard files


class _TableFile:
    """One table's file of one shard, written row group by row group (never more than one in memory)."""

    def __init__(self, path: Path, table: str, row_group_rows: int):
        self.path, self.table, self.step = path, table, table_row_group_rows(table, row_group_rows)
        self.pending: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add_rows(self, rows: list[dict[str, Any]], num_samples: int | None) -> None:
        self.pending.extend(rows)
        while len(self.pending) >= self.step:
            chunk, self.pending = self.pending[: self.step], self.pending[self.step:]
            self.add_table(rows_to_table(self.table, chunk, num_samples))

    def add_table(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, **_options(table.schema))
        for start in range(0, table.num_rows, self.step):
            piece = table.slice(start, self.step)
            self.writer.write_table(piece, row_group_size=piece.num_rows)
            self.rows += piece.num_rows

    def close(self, schema: pa.Schema) -> None:
        if self.pending:
            self.add_table(rows_to_table(self.table, self.pending, _num_samples(schema)))
            self.pending = []
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, schema, **_options(schema))
        self.writer.close()


_OPTIONS: dict[tuple, dict] = {}


def _options(schema: pa.Schema) -> dict[str, Any]:
    key = (tuple(schema.names), _num_samples(schema))
    if key not in _OPTIONS:
        _OPTIONS[key] = parquet_options(schema)
    return _OPTIONS[key]


def _num_samples(schema: pa.Schema) -> int | None:
    value = (schema.metadata or {}).get(b"partverse.num_samples")
    return int(value) if value else None


class _ShardSet:
    """The shards of a release being written: shard i holds files `<table>-0000i.parquet`."""

    def __init__(self, staging: Path, row_group_rows: int):
        self.staging, self.row_group_rows = staging, row_group_rows
        self.files: dict[str, dict] = {}
        self.index = {name: {"rows": 0, "files": []} for name in mf.TABLE_NAMES}
        self.current: dict[str, _TableFile] | None = None
        self.first = self.last = ""

    def open(self) -> dict[str, _TableFile]:
        if self.current is None:
            shard = len(self.index["objects"]["files"])
            self.current = {n: _TableFile(self.staging / f"{n}-{shard:05d}.parquet", n, self.row_group_rows) for n in mf.TABLE_NAMES}
            self.first = ""
        return self.current

    def note_uid(self, uid: str) -> None:
        self.first, self.last = self.first or uid, uid

    def close(self, schemas: dict[str, pa.Schema]) -> None:
        current = self.open()
        for name, tf in current.items():
            tf.close(schemas[name])
            sha, size = file_digest(tf.path)
            shard = len(self.index[name]["files"])
            first, last = (self.first, self.last) if self.first else ("", "")
            self.files[tf.path.name] = {
                "table": name, "shard": shard, "rows": tf.rows, "sha256": sha, "size": size,
                "first_uid": first, "last_uid": last,
            }
            self.index[name]["files"].append(tf.path.name)
            self.index[name]["rows"] += tf.rows
            _failpoint_delay()
        self.current = None


# ---------------------------------------------------------------- rows in uid order


def _key(row: dict[str, Any], table: str) -> tuple:
    if table == "objects":
        return (row["uid"],)
    pid = row.get("part_id")
    return (row["uid"], -(2**31) if pid is None else pid)


def _ordered(rows: Iterable[dict[str, Any]], table: str) -> Iterator[dict[str, Any]]:
    """Rows sorted by (uid, part_id): lists are sorted here (references only); iterators must come
    sorted (that is what lets a release be written without holding its rows)."""
    if isinstance(rows, (list, tuple)):
        for row in rows:
            _check_uid(row, table)
        rows = sorted(rows, key=lambda r: _key(r, table))
    last = None
    for row in rows:
        _check_uid(row, table)
        key = _key(row, table)
        if last is not None and key <= last:
            if key == last:
                raise WriterError(f"{table}: duplicate {'uid' if table == 'objects' else '(uid, part_id)'} {key}")
            raise WriterError(
                f"{table}: rows given as an iterator must come sorted by (uid, part_id): {key} after {last}; "
                "pass a list to have them sorted"
            )
        last = key
        yield row


def _check_uid(row: Any, table: str) -> None:
    if not isinstance(row, dict) or not row.get("uid"):
        raise WriterError(f"{table} row {row!r:.120}: missing uid")


class _Runs:
    """Rows of one table (sorted by uid) taken object by object."""

    def __init__(self, rows: Iterator[dict[str, Any]], table: str):
        self.rows, self.table = rows, table
        self.head = next(rows, None)

    def take(self, uid: str) -> list[dict[str, Any]]:
        if self.head is not None and self.head["uid"] < uid:
            raise WriterError(f"{self.table}: rows for uid(s) [{self.head['uid']!r}] that are not in objects")
        out = []
        while self.head is not None and self.head["uid"] == uid:
            out.append(self.head)
            self.head = next(self.rows, None)
        return out

    def finish(self) -> None:
        if self.head is not None:
            raise WriterError(f"{self.table}: rows for uid(s) [{self.head['uid']!r}] that are not in objects")


def object_groups(objects, parts, captions) -> Iterator[tuple[dict, list[dict], list[dict]]]:
    """(object row, its parts rows, its captions rows) in uid order; orphans and duplicates are errors."""
    part_runs, caption_runs = _Runs(_ordered(parts, "parts"), "parts"), _Runs(_ordered(captions, "captions"), "captions")
    for obj in _ordered(objects, "objects"):
        yield obj, part_runs.take(obj["uid"]), caption_runs.take(obj["uid"])
    part_runs.finish()
    caption_runs.finish()


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

    Streaming: rows are converted and written one row group at a time. Lists are sorted here;
    iterators (e.g. generators reading a build's outputs) must yield rows sorted by (uid, part_id),
    and then the release is written holding only about one row group per table in memory.
    """
    mf.check_version(version)
    if rows_per_shard < 1:
        raise WriterError(f"rows_per_shard={rows_per_shard}: must be >= 1")

    def write(staging: Path):
        shards, stats = _ShardSet(staging, row_group_rows), ReleaseStats()
        ns, acc = num_samples, 0
        for obj, ps, cs in object_groups(objects, parts, captions):
            if obj.get("num_parts") is None:
                obj = {**obj, "num_parts": len(ps)}
            ns = ns or (_infer_num_samples(ps) if any(p.get("points") is not None for p in ps) else None)
            files = shards.open()
            shards.note_uid(obj["uid"])
            files["objects"].add_rows([obj], ns)
            files["parts"].add_rows(ps, ns or NUM_SAMPLES)
            files["captions"].add_rows(cs, ns)
            stats.add_object(obj)
            stats.parts, stats.captions = stats.parts + len(ps), stats.captions + len(cs)
            acc += max(1, obj["num_parts"])
            if _ends_shard(obj["uid"], obj["num_parts"], rows_per_shard) or acc >= 2 * rows_per_shard:
                shards.close(_schemas(ns))
                acc = 0
        if shards.current is not None or not shards.files:
            shards.close(_schemas(ns))
        return shards, stats.as_dict(), ns or NUM_SAMPLES

    return _publish(out_dir, write, version=version, source_run=source_run, rows_per_shard=rows_per_shard,
                    row_group_rows=row_group_rows, extra=None)


def _schemas(num_samples: int | None) -> dict[str, pa.Schema]:
    return {"objects": objects_schema(), "parts": parts_schema(num_samples or NUM_SAMPLES), "captions": captions_schema()}


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
    """Like `write_release`, from Arrow tables with the release schemas (`extra` goes into the manifest).
    The same rows give the same bytes as `write_release`."""
    mf.check_version(version)
    tables = {name: _sorted(_canonical(name, tables[name])) for name in mf.TABLE_NAMES}
    tables["objects"] = _fill_num_parts(tables["objects"], tables["parts"])
    _check_tables(tables)

    def write(staging: Path):
        objects = tables["objects"]
        uids = objects.column("uid").to_pylist()
        cuts = shard_boundaries(uids, objects.column("num_parts").to_pylist(), rows_per_shard) if uids else [(0, 0)]
        shards = _ShardSet(staging, row_group_rows)
        for start, stop in cuts:
            files = shards.open()
            if stop > start:
                shards.note_uid(uids[start])
                shards.note_uid(uids[stop - 1])
            for name in mf.TABLE_NAMES:
                piece = objects.slice(start, stop - start) if name == "objects" else (
                    _uid_slices(tables[name], uids[start], uids[stop - 1]) if stop > start else tables[name].slice(0, 0)
                )
                if piece.num_rows:
                    files[name].add_table(piece)
            shards.close({name: tables[name].schema for name in mf.TABLE_NAMES})
        return shards, release_stats(tables), _num_samples(tables["parts"].schema) or NUM_SAMPLES

    return _publish(out_dir, write, version=version, source_run=source_run, rows_per_shard=rows_per_shard,
                    row_group_rows=row_group_rows, extra=extra)


def _canonical(name: str, table: pa.Table) -> pa.Table:
    """A table with exactly the schema this partverse writes (same metadata, so the same bytes as
    `write_release`); 1.x samples (fixed-size float lists) become 2.x float32 bytes."""
    if name != "parts":
        return pa.Table.from_arrays(table.select(TABLES[name]().names).columns, schema=TABLES[name]())
    num_samples = _num_samples(table.schema) or NUM_SAMPLES
    schema = parts_schema(num_samples)
    columns = []
    for field in schema:
        col = table.column(field.name).combine_chunks()
        if field.name in SAMPLE_COLUMNS and pa.types.is_fixed_size_list(col.type):
            values = np.asarray(col.flatten(), dtype=np.float32)
            offsets = np.arange(len(col) + 1, dtype=np.int32) * (12 * num_samples)
            col = pa.Array.from_buffers(pa.binary(), len(col), [None, pa.py_buffer(offsets), pa.py_buffer(values)])
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def _publish(out_dir, write, *, version, source_run, rows_per_shard, row_group_rows, extra) -> dict[str, Any]:
    """Stage the shards (`write(staging) -> (shards, stats, num_samples)`), then move them into place
    and write the manifest last; an existing identical release is returned, a different one refused."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(out_dir)
    staging = out_dir / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        shards, stats, num_samples = write(staging)
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
            "captions_row_group_rows": CAPTIONS_ROW_GROUP_ROWS,
            "tables": shards.index,
            "files": shards.files,
            "card": None,
            "stats": stats,
            **(extra or {}),
        }
        existing = out_dir / mf.MANIFEST_NAME
        if existing.exists():
            return _same_or_raise(existing, manifest)
        _move_into_place(staging, out_dir, shards.files)
        publish_manifest_local(out_dir, manifest)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
