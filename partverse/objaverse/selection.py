"""Select Objaverse objects: licence, LVIS category, tags, face count, file type, uid list, seeded sample.

`select(spec, layout, fetcher)` returns a `Selection`: an Arrow table (one row per object,
`SELECTION_SCHEMA`) and the count left after each filter, so the user sees what a download
would fetch before anything but the index files is downloaded.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from partverse.errors import ConfigError
from partverse.objaverse.licenses import REDISTRIBUTABLE, normalize_license
from partverse.objaverse.layout import XL_SOURCES

SOURCES = ("v1",) + tuple(f"xl-{s}" for s in XL_SOURCES)

SELECTION_SCHEMA = pa.schema([
    ("uid", pa.string()),
    ("source", pa.string()),  # "objaverse" | "objaverse-xl/<source>"
    ("file_identifier", pa.string()),  # v1: Sketchfab URL; XL: the annotation's fileIdentifier
    ("url", pa.string()),  # what the downloader fetches (v1: path inside the dataset repo)
    ("sha256", pa.string()),  # null when unknown (Objaverse 1.0 GLBs)
    ("license", pa.string()),  # normalized code
    ("license_raw", pa.string()),
    ("file_type", pa.string()),
    ("face_count", pa.int64()),
    ("vertex_count", pa.int64()),
    ("name", pa.string()),
    ("tags", pa.list_(pa.string())),
    ("lvis_categories", pa.list_(pa.string())),
    ("metadata_json", pa.string()),
])


@dataclass
class SelectionSpec:
    """What to select. `licenses=None` means the redistributable set (`licenses.REDISTRIBUTABLE`);
    `tags` and `lvis_categories` match any of the given values; `sample` draws that many rows
    with `seed` after every other filter. `sources`: "v1" and/or "xl-<source>"."""

    sources: list[str] = field(default_factory=lambda: ["v1"])
    licenses: list[str] | None = None
    lvis_categories: list[str] | None = None
    tags: list[str] | None = None
    min_faces: int | None = None
    max_faces: int | None = None
    file_types: list[str] | None = None
    uids_file: str | None = None
    sample: int | None = None
    seed: int = 0
    v1_checksums: bool = True  # take 1.0 GLB sha256 from the XL Sketchfab annotations


    def __post_init__(self) -> None:
        bad = [s for s in self.sources if s not in SOURCES]
        if not self.sources or bad:
            raise ConfigError(f"SelectionSpec.sources: {self.sources!r}; allowed values: {list(SOURCES)}")
        for name in ("min_faces", "max_faces", "sample"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"SelectionSpec.{name}: {value!r} must be a non-negative integer")
        if self.min_faces is not None and self.max_faces is not None and self.min_faces > self.max_faces:
            raise ConfigError(f"SelectionSpec.min_faces: {self.min_faces} > max_faces {self.max_faces}")
        if self.licenses is not None:
            self.licenses = sorted({normalize_license(v) or "" for v in self.licenses} - {""})
            if not self.licenses:
                raise ConfigError("SelectionSpec.licenses: empty; give licence codes such as by, by-sa, cc0")
        if self.file_types is not None:
            self.file_types = sorted({t.lower().lstrip(".") for t in self.file_types})
        if self.uids_file is not None and not Path(self.uids_file).is_file():
            raise ConfigError(f"SelectionSpec.uids_file: {self.uids_file!r} does not exist")

    @property
    def allowed_licenses(self) -> frozenset[str]:
        return frozenset(self.licenses) if self.licenses is not None else REDISTRIBUTABLE


@dataclass
class Selection:
    table: pa.Table
    counts: list[tuple[str, int]]  # (step, rows left after it), in order

    def write(self, path: str | Path, spec: SelectionSpec) -> None:
        """Parquet with the spec and counts in the schema metadata; written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {b"partverse.objaverse.spec": json.dumps(asdict(spec)).encode(),
                b"partverse.objaverse.counts": json.dumps(self.counts).encode()}
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(self.table.replace_schema_metadata(meta), tmp)
        tmp.replace(path)


def read_uids_file(path: str | Path) -> list[str]:
    """uids from a text file (one per line, '#' comments) or a Parquet / CSV file with a `uid` column."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = pq.read_table(path, columns=["uid"])
        return [u for u in table.column("uid").to_pylist() if u]
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
        if "uid" not in table.column_names:
            raise ConfigError(f"{path}: CSV has no 'uid' column (columns: {table.column_names})")
        return [str(u) for u in table.column("uid").to_pylist() if u]
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line.removesuffix(".glb") for line in lines if line]


class _Counter:
    def __init__(self) -> None:
        self.counts: list[tuple[str, int]] = []

    def __call__(self, step: str, table: pa.Table) -> pa.Table:
        self.counts.append((step, table.num_rows))
        return table


def apply_filters(table: pa.Table, spec: SelectionSpec, uids: set[str] | None, count: _Counter) -> pa.Table:
    """Vectorized filters over a SELECTION_SCHEMA table, counting rows after each."""
    if uids is not None:  # a list may name 1.0 uids or XL fileIdentifiers
        listed = pa.array(sorted(uids), pa.string())
        keep = pc.or_(pc.is_in(table["uid"], listed), pc.is_in(table["file_identifier"], listed))
        table = count("uid list", table.filter(keep))
    if spec.lvis_categories:
        wanted = pa.array(spec.lvis_categories, pa.string())
        hit = pc.is_in(pc.list_flatten(table["lvis_categories"]), wanted)
        table = count("lvis category", table.filter(_any_per_row(table["lvis_categories"], hit)))
    allowed = pa.array(sorted(spec.allowed_licenses), pa.string())
    table = count("license", table.filter(pc.fill_null(pc.is_in(table["license"], allowed), False)))
    if spec.tags:
        wanted = pa.array([t.lower() for t in spec.tags], pa.string())
        hit = pc.is_in(pc.utf8_lower(pc.list_flatten(table["tags"])), wanted)
        table = count("tags", table.filter(_any_per_row(table["tags"], hit)))
    if spec.file_types:
        table = count("file type", table.filter(pc.is_in(table["file_type"], pa.array(spec.file_types))))
    if spec.min_faces is not None or spec.max_faces is not None:
        faces = table["face_count"]
        keep = pc.is_valid(faces)
        if spec.min_faces is not None:
            keep = pc.and_(keep, pc.greater_equal(faces, spec.min_faces))
        if spec.max_faces is not None:
            keep = pc.and_(keep, pc.less_equal(faces, spec.max_faces))
        table = count("face count", table.filter(pc.fill_null(keep, False)))
    if spec.sample is not None and spec.sample < table.num_rows:
        table = table.sort_by([("source", "ascending"), ("uid", "ascending")])
        rng = np.random.default_rng(spec.seed)
        idx = np.sort(rng.choice(table.num_rows, size=spec.sample, replace=False))
        table = count(f"sample (seed {spec.seed})", table.take(pa.array(idx)))
    return table


def _any_per_row(lists: pa.ChunkedArray, flat_hit: pa.Array) -> pa.Array:
    """For a list column and a per-element boolean (flattened), True where any element of a row hits."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    hits = np.asarray(pc.fill_null(flat_hit, False).to_numpy(zero_copy_only=False), dtype=np.int64)
    ends = np.cumsum(lengths)
    csum = np.concatenate([[0], np.cumsum(hits)])
    return pa.array((csum[ends] - csum[ends - lengths]) > 0)


def select(spec: SelectionSpec, v1=None, xl=None) -> Selection:
    """Rows of every requested source, filtered. `v1` is an `ObjaverseV1`, `xl` an `XLAnnotations`."""
    from partverse.objaverse.sources import sketchfab_sha256, v1_rows, xl_rows

    count = _Counter()
    uids = set(read_uids_file(spec.uids_file)) if spec.uids_file else None
    parts = []
    for source in spec.sources:
        if source == "v1":
            if v1 is None:
                raise ConfigError("select: source 'v1' requested but no Objaverse 1.0 client given")
            shas = sketchfab_sha256(xl) if spec.v1_checksums and xl is not None else None
            parts.append(v1_rows(v1, spec, uids, shas))
        else:
            if xl is None:
                raise ConfigError(f"select: source {source!r} requested but no XL client given")
            parts.append(xl_rows(xl, source.removeprefix("xl-")))
    table = pa.concat_tables(parts) if parts else SELECTION_SCHEMA.empty_table()
    count("all (candidates)", table)
    table = apply_filters(table, spec, uids, count)
    return Selection(table, count.counts)
