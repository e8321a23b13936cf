"""Rows for the selection table from each source, and where each row is downloaded from / to.

Objaverse 1.0 rows come from object-paths + metadata + LVIS; XL rows from the per-source
annotation Parquet files (`fileIdentifier, source, license, fileType, sha256, metadata`).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from partverse.objaverse.http import ContentError, Fetcher
from partverse.objaverse.layout import XL_SOURCES, CacheLayout
from partverse.objaverse.licenses import normalize_license
from partverse.objaverse.selection import SELECTION_SCHEMA
from partverse.objaverse.validate import check_parquet, validator_for

SKETCHFAB_URL = "https://sketchfab.com/3d-models/"
XL_COLUMNS = ("fileIdentifier", "source", "license", "fileType", "sha256", "metadata")


def v1_rows(v1, spec, uids: set[str] | None, sha256_by_uid: dict[str, str] | None = None) -> pa.Table:
    """Objaverse 1.0 rows. Metadata shards are fetched only for candidate uids when the uid list
    or LVIS filter narrows them (the whole dataset otherwise). `sha256_by_uid` (from the XL
    Sketchfab annotations, which cover the 1.0 GLBs) lets downloads be checked byte for byte."""
    paths = v1.object_paths()
    lvis = v1.lvis()
    uid_lvis: dict[str, list[str]] = {}
    for category, members in lvis.items():
        for u in members:
            uid_lvis.setdefault(u, []).append(category)
    candidates = set(paths)
    if uids is not None:
        candidates &= uids
    if spec.lvis_categories:
        candidates &= {u for c in spec.lvis_categories for u in lvis.get(c, ())}
    narrowed = uids is not None or bool(spec.lvis_categories)
    cols: dict[str, list] = {name: [] for name in SELECTION_SCHEMA.names}
    seen: set[str] = set()
    for u, m in v1.iter_metadata(candidates if narrowed else None):
        if u in candidates and u not in seen:
            seen.add(u)
            _append_v1(cols, u, m, paths[u], uid_lvis.get(u, []), sha256_by_uid)
    for u in sorted(candidates - seen):  # in object-paths but absent from the metadata shards
        _append_v1(cols, u, {}, paths[u], uid_lvis.get(u, []), sha256_by_uid)
    return pa.table(cols, schema=SELECTION_SCHEMA).sort_by("uid")


_HEAVY_KEYS = ("thumbnails",)  # image URL lists: most of the metadata's bytes, not needed downstream


def _append_v1(cols: dict, u: str, m: dict, rel: str, lvis: list[str], shas: dict | None) -> None:
    cols["uid"].append(u)
    cols["source"].append("objaverse")
    cols["file_identifier"].append(SKETCHFAB_URL + u)
    cols["url"].append(rel)
    cols["sha256"].append(shas.get(u) if shas else None)
    cols["license_raw"].append(m.get("license"))
    cols["license"].append(normalize_license(m.get("license")))
    cols["file_type"].append("glb")
    cols["face_count"].append(_int_or_none(m.get("faceCount")))
    cols["vertex_count"].append(_int_or_none(m.get("vertexCount")))
    cols["name"].append(m.get("name"))
    cols["tags"].append([_tag_name(t) for t in m.get("tags") or []])
    cols["lvis_categories"].append(sorted(lvis))
    slim = {k: v for k, v in m.items() if k not in _HEAVY_KEYS}
    cols["metadata_json"].append(json.dumps(slim, sort_keys=True) if m else None)


def _tag_name(tag) -> str:
    return tag.get("name") or tag.get("slug") or "" if isinstance(tag, dict) else str(tag)


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class XLAnnotations:
    """Objaverse-XL annotation Parquet files, cached as `<root>/<source>/<source>.parquet`."""

    def __init__(self, layout: CacheLayout, fetcher: Fetcher):
        self.layout, self.fetcher = layout, fetcher

    def table(self, source: str) -> pa.Table:
        if source not in XL_SOURCES:
            raise ValueError(f"unknown Objaverse-XL source {source!r}; known: {list(XL_SOURCES)}")
        path = self.layout.xl_annotations_file(source)
        if path.exists():
            try:
                check_parquet(path)
            except ContentError:
                path.unlink()  # truncated by an earlier in-place writer: fetch again
        if not path.exists():
            self.fetcher.fetch(self.layout.xl_annotations_url(source), path, validate=check_parquet)
        table = pq.read_table(path)
        missing = [c for c in ("fileIdentifier", "fileType", "sha256") if c not in table.column_names]
        if missing:
            raise ContentError("bad_annotations", f"{path}: missing columns {missing}")
        return table


def xl_rows(xl: XLAnnotations, source: str) -> pa.Table:
    """Selection rows for one XL source (vectorized over the annotation table)."""
    t = xl.table(source)
    n = t.num_rows
    ident = t["fileIdentifier"].to_pylist()
    if source == "sketchfab":
        uids = [i.rstrip("/").rsplit("/", 1)[-1] for i in ident]
    else:
        uids = [uuid.uuid5(uuid.NAMESPACE_DNS, i).hex for i in ident]
    lic_raw = t["license"].to_pylist() if "license" in t.column_names else [None] * n
    meta = t["metadata"].to_pylist() if "metadata" in t.column_names else [None] * n
    meta = [m if isinstance(m, str) or m is None else json.dumps(m) for m in meta]
    parsed = [_json_or_empty(m) for m in meta]
    cols = {
        "uid": uids,
        "source": [f"objaverse-xl/{source}"] * n,
        "file_identifier": ident,
        "url": ident,
        "sha256": t["sha256"].to_pylist(),
        "license": [normalize_license(v) for v in lic_raw],
        "license_raw": [None if v is None else str(v) for v in lic_raw],
        "file_type": [str(v).lower().lstrip(".") for v in pc.fill_null(t["fileType"], "").to_pylist()],
        "face_count": [_int_or_none(p.get("faceCount", p.get("face_count"))) for p in parsed],
        "vertex_count": [_int_or_none(p.get("vertexCount", p.get("vertex_count"))) for p in parsed],
        "name": [p.get("name") for p in parsed],
        "tags": [[str(x) for x in p.get("tags", [])] if isinstance(p.get("tags"), list) else [] for p in parsed],
        "lvis_categories": [[] for _ in range(n)],
        "metadata_json": meta,
    }
    return pa.table(cols, schema=SELECTION_SCHEMA)


def sketchfab_sha256(xl: XLAnnotations) -> dict[str, str]:
    """uid -> sha256 of the Objaverse 1.0 GLB, from the XL Sketchfab annotation file."""
    t = xl.table("sketchfab")
    return {i.rstrip("/").rsplit("/", 1)[-1]: s for i, s in
            zip(t["fileIdentifier"].to_pylist(), t["sha256"].to_pylist()) if s}


def _json_or_empty(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Target:
    """Where one selection row comes from and goes to."""

    url: str
    dest: Path
    sha256: str | None
    validate: Callable[[Path], None] | None


def http_target(row: dict, layout: CacheLayout, v1=None) -> Target:
    """Download target for a row served over HTTP (Objaverse 1.0, XL sketchfab / smithsonian /
    thingiverse). GitHub rows go through `git_source` instead."""
    source = row["source"]
    check = validator_for(row["file_type"] or "")
    if source == "objaverse":
        return Target(layout.v1_url(row["url"]), layout.v1_file(row["url"]), row.get("sha256"), check)
    xl_source = source.removeprefix("objaverse-xl/")
    if xl_source == "sketchfab":  # XL Sketchfab objects are the Objaverse 1.0 GLBs
        rel = v1.glb_rel(row["uid"])
        return Target(layout.v1_url(rel), layout.v1_file(rel), row["sha256"], check)
    if xl_source == "smithsonian":
        return Target(row["url"], layout.xl_object_file("smithsonian", row["file_identifier"],
                                                        row["file_type"]), row["sha256"], check)
    if xl_source == "thingiverse":
        return Target(layout.thingiverse_url_for(row["file_identifier"]),
                      layout.xl_object_file("thingiverse", row["file_identifier"], row["file_type"]),
                      row["sha256"], check)
    raise ValueError(f"{row['file_identifier']}: source {source!r} is not served over HTTP")
