"""Deterministic, resumable, splittable streaming of a release's parts (no torch needed here).

The plan: the parts shards' row groups are the units a reader fetches (in object mode, runs of row
groups merged so no object spans two units). Per epoch, a generator seeded by (seed, epoch)
permutes the units; consumer c of C (C = DataLoader workers x DDP ranks) takes units c, c+C, ...;
its items then pass a shuffle buffer seeded by (seed, epoch, c). The whole order is computed on
indices before any data is read, so resuming at position k of an epoch skips exactly k items
without reading them: no sample is lost or repeated. A unit is read (only the asked columns, ranged
reads on S3) when the order first needs it and dropped when its last item is out.

Surface samples (schema 2.x) are read straight from their Parquet pages (`partverse.data.pages`):
one read per row group and column into a buffer, page CRCs checked (unless the file is a sha256-verified
local copy: `verify_pages`), and every sample is a view
of that buffer (no decode, no per-sample copy). 1.x shards (fixed-size float lists) go through
pyarrow and are copied once per row group.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from partverse.data import manifest as mf
from partverse.data.location import ReleaseLocation, locate
from partverse.data import pages
from partverse.data.reader import open_parquet, open_parquet_source, read_table
from partverse.data.schema import SAMPLE_DTYPE, parts_schema
from partverse.data.verified import unchanged, verified_files

CAPTION_COLUMNS = {"brief": "brief", "detailed": "detailed", "caption": "brief"}
DEFAULT_COLUMNS = ("points", "normals", "bbox_min", "bbox_max")
MODES = ("part", "object")


@dataclass
class Unit:
    shard: int  # index of the parts file
    row_groups: list[int]
    starts: np.ndarray  # (n_items + 1,) row offsets of the items inside the unit

    @property
    def n_items(self) -> int:
        return len(self.starts) - 1


def _runs(uids: list[str]) -> np.ndarray:
    """Row offsets where a new uid starts, plus the end: (n_objects + 1,)."""
    a = np.asarray(uids, dtype=object)
    change = np.flatnonzero(a[1:] != a[:-1]) + 1 if len(a) > 1 else np.zeros(0, np.int64)
    return np.concatenate([[0], change, [len(a)]]).astype(np.int64)


class PartStream:
    """Iterate the parts of a release as dict samples (numpy arrays), part by part or object by object.

    columns: parts columns to read (default points, normals, bbox_min, bbox_max) plus caption columns
    `caption` / `brief` / `detailed` (joined from the captions shard that covers the same objects);
    `uid` and `part_id` are always included.
    verify_pages: check Parquet page CRCs on read. None (default): check them except in files of a
    local release directory that `pull` / `verify` checked by sha256 and that are unchanged since
    (`partverse.data.verified`): S3 streams, published repositories, directories written by
    `write_release` or copied are CRC-checked. True: always; False: never.
    Arrays: points / normals (N, 3) float32 per part, bbox_* (3,).
    In object mode a sample holds one object: arrays stacked over its parts ((P, N, 3)), lists for strings.
    """

    def __init__(
        self, uri: str | Path, version: str | None = None, columns: Sequence[str] | None = None, *,
        mode: str = "part", shuffle: bool = True, seed: int = 0, buffer_size: int = 256,
        verify_pages: bool | None = None,
    ):
        if mode not in MODES:
            raise mf.ReleaseError(f"mode={mode!r}: allowed {MODES}")
        if buffer_size < 1:
            raise mf.ReleaseError(f"buffer_size={buffer_size}: must be >= 1")
        self.loc: ReleaseLocation = locate(uri, version)
        self.verify_pages = verify_pages  # Parquet page CRCs: integrity of streamed reads without a full sha256
        self.mode, self.shuffle, self.seed, self.buffer_size = mode, shuffle, int(seed), int(buffer_size)
        self.columns, self.caption_columns = self._split_columns(columns)
        self.files = self.loc.table_paths("parts")
        self.caption_files = self.loc.table_paths("captions") if "captions" in self.loc.manifest["tables"] else []
        if self.caption_columns and len(self.caption_files) != len(self.files):
            raise mf.ReleaseError(f"{self.loc.uri}: caption columns asked but the release has no aligned captions table")
        self.units = self._plan()
        self._caption_cache: dict[int, dict] = {}
        self._trusted = verified_files(self.loc) if verify_pages is None else {}  # name -> stat when verified
        self.verify = self._page_checks("parts")  # per parts file: check its page CRCs?
        self.verify_captions = self._page_checks("captions") if self.caption_files else []

    # ------------------------------------------------------------ plan

    def _page_checks(self, table: str) -> list[bool]:
        names = mf.table_files(self.loc.manifest, table)
        if self.verify_pages is not None:
            return [bool(self.verify_pages)] * len(names)
        return [name not in self._trusted for name in names]

    def _check_pages(self, table: str, index: int) -> bool:
        """Check the page CRCs of this file now? A trusted file is stat-ed again when opened (it may
        have changed since the dataset was made: a long run)."""
        checks = self.verify if table == "parts" else self.verify_captions
        if checks[index]:
            return True
        name = mf.table_files(self.loc.manifest, table)[index]
        return self.verify_pages is None and not unchanged(self.loc.file_path(name), self._trusted[name])

    def _split_columns(self, columns):
        names = parts_schema(self.loc.manifest.get("num_samples", 4096)).names
        asked = list(columns) if columns is not None else list(DEFAULT_COLUMNS)
        bad = [c for c in asked if c not in names and c not in CAPTION_COLUMNS]
        if bad:
            raise mf.ReleaseError(f"columns {bad} do not exist; parts columns: {names}; caption columns: {list(CAPTION_COLUMNS)}")
        parts_cols = ["uid", "part_id"] + [c for c in asked if c in names and c not in ("uid", "part_id")]
        return parts_cols, [c for c in asked if c in CAPTION_COLUMNS]

    def _plan(self) -> list[Unit]:
        units = []
        for shard, path in enumerate(self.files):
            pf = open_parquet(path, self.loc.filesystem)
            sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
            if self.mode == "part":
                units += [Unit(shard, [i], np.arange(n + 1)) for i, n in enumerate(sizes) if n]
                continue
            starts = _runs(pf.read(columns=["uid"]).column("uid").to_pylist())
            units += self._object_units(shard, sizes, starts)
        return units

    @staticmethod
    def _object_units(shard: int, sizes: list[int], starts: np.ndarray) -> list[Unit]:
        ends = np.cumsum(sizes)
        units, group, lo = [], [], 0
        boundaries = set(starts.tolist())
        for i, end in enumerate(ends):
            group.append(i)
            if int(end) in boundaries:  # no object crosses this row-group end
                inside = starts[(starts >= lo) & (starts <= end)] - lo
                if len(inside) > 1:
                    units.append(Unit(shard, group, inside))
                group, lo = [], int(end)
        return units

    def __len__(self) -> int:
        return int(sum(u.n_items for u in self.units))

    # ------------------------------------------------------------ order

    def order(self, epoch: int, consumer: int = 0, consumers: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(unit index, item index) arrays of everything consumer `consumer` of `consumers` yields in `epoch`."""
        n = len(self.units)
        unit_order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        mine = unit_order[consumer::consumers]
        counts = np.array([self.units[u].n_items for u in mine], dtype=np.int64)
        units = np.repeat(mine, counts)
        items = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        if self.shuffle and len(units) > 1:
            perm = self._buffer_permutation(len(units), np.random.default_rng([self.seed, epoch, consumer, 1]))
            units, items = units[perm], items[perm]
        return units, items

    def _buffer_permutation(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Order of a shuffle buffer of `buffer_size` over a stream of n items: (n,) permutation."""
        size = min(self.buffer_size, n)
        buf = np.arange(size)
        picks = rng.integers(0, size, size=n - size)
        out = np.empty(n, dtype=np.int64)
        for k, (j, incoming) in enumerate(zip(picks.tolist(), range(size, n))):
            out[k] = buf[j]
            buf[j] = incoming
        out[n - size:] = buf[rng.permutation(size)]
        return out

    # ------------------------------------------------------------ data

    def iterate(self, epoch: int, consumer: int = 0, consumers: int = 1, start: int = 0, convert=None) -> Iterator[dict[str, Any]]:
        """Samples of one epoch for one consumer, from position `start` of its order.

        convert: optional `convert(columns, mode) -> columns` applied once per loaded unit (the
        PyTorch dataset turns whole columns into tensors there, not sample by sample)."""
        units, items = self.order(epoch, consumer, consumers)
        units, items = units[start:], items[start:]
        remaining = np.bincount(units, minlength=len(self.units)).tolist() if len(units) else []
        loaded: dict[int, dict[str, Any]] = {}  # unit -> its columns, while some of its items are to come
        files: dict[int, Any] = {}
        for u, i in zip(units.tolist(), items.tolist()):
            cols = loaded.get(u)
            if cols is None:
                cols = self._load(self.units[u], files)
                cols = loaded[u] = convert(cols, self.mode) if convert is not None else cols
            yield self._sample(cols, self.units[u], i)
            remaining[u] -= 1
            if remaining[u] == 0:
                del loaded[u]

    def _load(self, unit: Unit, files: dict) -> dict[str, Any]:
        if unit.shard not in files:
            if len(files) >= 8:  # a few open shards: footers are re-read only after eviction
                files.pop(next(iter(files)))
            files[unit.shard] = _Shard(self.files[unit.shard], self.loc.filesystem, self._check_pages("parts", unit.shard),
                                       self.columns)
        shard = files[unit.shard]
        cols = shard.small_rows(unit.row_groups)
        large = [c for c in self.columns if c not in cols and not shard.samples.plain(c)]
        if large:
            table = shard.pf.read_row_groups(unit.row_groups, columns=large)
            cols.update({name: _to_numpy(table.column(name), name) for name in large})
        for name in self.columns:
            if shard.samples.plain(name):
                arrays = [shard.read_samples(rg, name) for rg in unit.row_groups]
                cols[name] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        if self.caption_columns:
            cols.update(self._captions(shard, unit.shard, *shard.row_span(unit.row_groups)))
        return cols

    def _captions(self, shard: "_Shard", index: int, lo: int, hi: int) -> dict[str, list]:
        """Caption columns of parts rows lo:hi of shard `index` (None where a part has no caption)."""
        if index not in self._caption_cache:  # captions are small: keep each shard's, aligned to its parts rows
            sources = sorted({CAPTION_COLUMNS[c] for c in self.caption_columns})
            table = read_table(self.caption_files[index], ["uid", "part_id", *sources], self.loc.filesystem,
                               verify_pages=self._check_pages("captions", index), use_threads=False)
            row = _join_rows(shard.keys, (table.column("uid"), table.column("part_id")))
            found = row >= 0
            aligned = {}
            for name in sources:
                values = table.column(name).to_numpy(zero_copy_only=False)
                aligned[name] = np.full(len(row), None, dtype=object)
                aligned[name][found] = values[row[found]]
            self._caption_cache[index] = aligned
        aligned = self._caption_cache[index]
        return {c: aligned[CAPTION_COLUMNS[c]][lo:hi].tolist() for c in self.caption_columns}

    def _sample(self, cols: dict[str, Any], unit: Unit, item: int) -> dict[str, Any]:
        """One sample, made when it is yielded: it dies with the consumer's reference (no garbage
        collector work over samples kept waiting in the shuffle buffer)."""
        if self.mode == "part":  # one row per item
            return {k: v[item] for k, v in cols.items()}
        lo, hi = int(unit.starts[item]), int(unit.starts[item + 1])
        out = {k: v[lo:hi] for k, v in cols.items()}
        out["uid"] = cols["uid"][lo]
        out["num_parts"] = hi - lo
        return out


def _join_rows(left: tuple[pa.ChunkedArray, pa.ChunkedArray], right: tuple[pa.ChunkedArray, pa.ChunkedArray]) -> np.ndarray:
    """For each (uid, part_id) row of `left`, the index of the last equal row of `right`, or -1
    (a null never matches): (len(left),) int64. Vectorized: keys packed into int64, then a binary search."""
    import pyarrow.compute as pc

    uids = pc.unique(right[0])

    def keys(uid, part_id):  # (uid code << 32) + part_id as unsigned 32 bits
        code = pc.index_in(uid, value_set=uids)
        valid = pc.and_(pc.is_valid(code), pc.is_valid(part_id)).to_numpy(zero_copy_only=False)
        code = pc.fill_null(code, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        pid = pc.fill_null(part_id, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return (code << 32) + (pid + (1 << 31)), valid

    (lk, lvalid), (rk, rvalid) = keys(*left), keys(*right)
    rows = np.flatnonzero(rvalid)
    if not len(rows):
        return np.full(len(lk), -1, np.int64)
    rows = rows[np.argsort(rk[rows], kind="stable")]  # equal keys keep their order: the last wins, as in a dict
    pos = np.searchsorted(rk[rows], lk, side="right") - 1
    hit = lvalid & (pos >= 0)
    hit[hit] = rk[rows[pos[hit]]] == lk[hit]
    return np.where(hit, rows[np.maximum(pos, 0)], -1)


SMALL_COLUMNS = ("uid", "part_id", "name", "license", "num_faces", "bbox_min", "bbox_max")


class _Shard:
    """An open parts shard: its footer, the samples reader, and the small columns asked for
    (ids, names, boxes: a few bytes per part) read once for the whole shard."""

    def __init__(self, path: str, filesystem, verify: bool, columns: list[str]):
        self.path = path
        self.pf, source = open_parquet_source(path, filesystem, verify)
        self.samples = pages.SampleReader(self.pf, source, path, filesystem, verify)
        md = self.pf.metadata
        self.starts = np.concatenate([[0], np.cumsum([md.row_group(i).num_rows for i in range(md.num_row_groups)])])
        small = [c for c in columns if c in SMALL_COLUMNS]
        table = self.pf.read(columns=small, use_threads=False)  # a few bytes a row: threads cost more than they save
        self.keys = (table.column("uid"), table.column("part_id"))  # Arrow: joins with the captions shard
        # strings as object arrays (one fast conversion per shard), handed out as lists per unit
        self.small = {name: _small_numpy(table.column(name), name) for name in small}

    def row_span(self, row_groups: list[int]) -> tuple[int, int]:
        """Rows [lo, hi) of the shard a run of row groups covers (units are runs of row groups)."""
        return int(self.starts[row_groups[0]]), int(self.starts[row_groups[-1] + 1])

    def small_rows(self, row_groups: list[int]) -> dict[str, Any]:
        lo, hi = self.row_span(row_groups)
        return {name: v[lo:hi].tolist() if v.dtype.kind == "O" else v[lo:hi] for name, v in self.small.items()}

    def read_samples(self, row_group: int, name: str) -> np.ndarray:
        """(rows, N, 3) float32: a view of the pages, or via pyarrow for a chunk written some other way."""
        try:
            return self.samples.read(row_group, name)
        except pages.NotPlainSamples:
            arr = self.pf.read_row_group(row_group, columns=[name]).column(name).combine_chunks()
            return _binary_samples(arr, f"{self.path} row group {row_group} column {name}")


def _binary_samples(arr: pa.BinaryArray, where: str) -> np.ndarray:
    """Binary samples values (all the same length) -> (rows, N, 3) float32, one copy."""
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset: arr.offset + len(arr) + 1]
    lengths = np.diff(offsets)
    if arr.null_count or len(lengths) and ((lengths != lengths[0]).any() or lengths[0] % 12):
        raise mf.ReleaseError(f"{where}: samples values are null or of different lengths")
    data = np.frombuffer(arr.buffers()[2], np.uint8)[offsets[0]: offsets[-1]] if len(arr) else np.zeros(0, np.uint8)
    return data.view(SAMPLE_DTYPE).reshape(len(arr), -1, 3).copy()  # writable: torch tensors share it


def _small_numpy(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """A small column -> numpy: numbers and fixed-size lists as `_to_numpy`, strings as an object array."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)
    return _to_numpy(column, name)


def _to_numpy(column: pa.ChunkedArray, name: str):
    """Column -> numpy (N, ...) for numbers and fixed-size lists, a list for strings / bytes / lists."""
    t = column.type
    if pa.types.is_fixed_size_list(t):
        arr = column.combine_chunks()
        values = np.asarray(arr.flatten() if arr.offset else arr.values)
        values = values.reshape(len(arr), t.list_size).copy()  # writable: torch tensors share it
        return values.reshape(len(arr), -1, 3) if name in ("points", "normals") else values
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return column.to_numpy().copy()
    if pa.types.is_list(t) and pa.types.is_integer(t.value_type):
        return [np.asarray(v, dtype=np.int32) if v is not None else None for v in column.to_pylist()]
    return column.to_pylist()
