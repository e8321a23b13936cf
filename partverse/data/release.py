"""Publish a build's release as an immutable version of a repository (local path or s3://).

`create_release(run_dir, version, out_uri)` reads `RUN_DIR/release/` (shards written by the
pipeline through `write_release`), optionally keeps only some licences (re-sharding with the same
content-defined boundaries), uploads each shard once under `ROOT/blobs/<sha256>.parquet`
(shards that an earlier version already has are not uploaded again: incremental releases), writes
the dataset card, then `ROOT/<version>/manifest.json` LAST. Without that manifest there is no release.
The manifest is created without overwriting: a hard link locally, a conditional PUT
(`If-None-Match: *`) on S3, so of two concurrent publishers of one version exactly one wins.
"""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import fs as pafs

from partverse.data import manifest as mf
from partverse.data import storage
from partverse.data.card import dataset_card
from partverse.data.location import blob_path, list_versions
from partverse.data.reader import read_manifest, read_release_table
from partverse.data.transfer import check_file, upload
from partverse.data.writer import publish_manifest_local, write_release_tables

KNOWN_LICENCES = ("cc0", "by", "by-sa", "by-nc", "by-nc-sa", "by-nd", "by-nc-nd", "mit", "bsd", "apache", "lgpl", "gpl", "unknown")


def licence_code(text: str | None) -> str:
    """Short licence code: 'CC-BY-4.0' -> 'by', 'CC0-1.0' -> 'cc0', 'BSD-3' -> 'bsd', None -> 'unknown'."""
    if not text:
        return "unknown"
    t = text.strip().lower().split(" ")[0]
    t = re.sub(r"^creative ?commons[- ]?", "", t)
    t = re.sub(r"^cc[- ]?(?=by)", "", t)
    if t.startswith(("cc0", "cc-0", "cc-zero", "public-domain", "publicdomain")):
        return "cc0"
    t = re.sub(r"[- ]?\d+(\.\d+)*$", "", t)
    if t.startswith("bsd"):
        return "bsd"
    return t


def parse_licences(spec: str | Iterable[str] | None) -> list[str] | None:
    """'by,by-sa,cc0' -> ['by', 'by-sa', 'cc0']; unknown codes are an error listing the known ones."""
    if spec is None:
        return None
    codes = [licence_code(c) for c in (spec.split(",") if isinstance(spec, str) else spec) if c.strip()]
    bad = [c for c in codes if c not in KNOWN_LICENCES]
    if bad or not codes:
        raise mf.ReleaseError(f"--licences {spec!r}: unknown licence(s) {bad or spec!r}; known: {', '.join(KNOWN_LICENCES)}")
    return sorted(set(codes))


def filter_licences(tables: dict[str, pa.Table], keep: list[str]) -> dict[str, pa.Table]:
    """Keep the objects whose licence code is in `keep`, and their parts and captions."""
    objects = tables["objects"]
    codes = pa.array([licence_code(v) for v in objects.column("license").to_pylist()], pa.string())
    objects = objects.filter(pc.is_in(codes, value_set=pa.array(keep, pa.string())))
    uids = objects.column("uid")
    return {
        "objects": objects,
        **{t: tables[t].filter(pc.is_in(tables[t].column("uid"), value_set=uids)) for t in ("parts", "captions")},
    }


def create_release(
    run_dir: str | Path,
    version: str,
    out_uri: str | Path,
    *,
    licences: str | Iterable[str] | None = None,
    name: str = "partverse release",
    max_bytes_per_second: float | None = None,
    log=print,
) -> dict[str, Any]:
    """Publish `RUN_DIR/release/` as `OUT/<version>/`; return the published manifest."""
    mf.check_version(version)
    src = Path(run_dir) / "release"
    source = read_manifest(src)  # NotAReleaseError if the build's release stage did not finish
    filesystem, root = storage.resolve(out_uri)
    vdir = storage.join(root, version)
    if storage.exists(filesystem, storage.join(vdir, mf.MANIFEST_NAME)):
        raise mf.ReleaseExistsError(f"{out_uri}: release {version} already exists; versions are immutable")
    keep = parse_licences(licences)
    with tempfile.TemporaryDirectory(prefix="partverse-release-") as tmp:
        shard_dir, manifest = _shards_to_publish(src, source, keep, version, Path(tmp))
        reused = _upload_blobs(shard_dir, manifest, filesystem, root, max_bytes_per_second, log)
    manifest.update(
        version=version, created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source_run=str(Path(run_dir).resolve()), layout="blobs", licence_filter=keep,
        reused_files=reused, previous_versions=[v for v in list_versions(out_uri) if v != version],
    )
    card = dataset_card(manifest, name).encode()
    storage.write_bytes(filesystem, storage.join(vdir, mf.CARD_NAME), card)
    manifest["card"] = {"name": mf.CARD_NAME, "sha256": mf.sha256_bytes(card), "size": len(card)}
    _write_manifest(filesystem, vdir, manifest, out_uri)
    log(f"released {version} at {str(out_uri).rstrip('/')}/{version}: {manifest['stats']['objects']} objects, "
        f"{manifest['stats']['parts']} parts, {len(manifest['files'])} files ({reused} reused from earlier versions)")
    return manifest


def _shards_to_publish(src: Path, source: dict, keep: list[str] | None, version: str, tmp: Path):
    """(folder holding the shards, manifest) — the build's own shards, or re-written after filtering."""
    local = pafs.LocalFileSystem()
    for fname, info in source["files"].items():
        check_file(local, str(src / fname), fname, info["sha256"], info["size"])
    if keep is None:
        return src, dict(source)
    tables = {t: read_release_table(src, t) for t in mf.TABLE_NAMES}
    tables = filter_licences(tables, keep)
    manifest = write_release_tables(
        tmp / "filtered", tables, version=version, source_run=source.get("source_run"),
        rows_per_shard=source.get("rows_per_shard", 2048), row_group_rows=source.get("row_group_rows", 64),
    )
    return tmp / "filtered", manifest


def _upload_blobs(shard_dir: Path, manifest: dict, filesystem, root: str, rate, log) -> int:
    reused = 0
    for fname, info in sorted(manifest["files"].items()):
        target = blob_path(root, info["sha256"])
        existing = filesystem.get_file_info(target)
        if existing.type == pafs.FileType.File and existing.size == info["size"]:
            reused += 1
            continue
        upload(shard_dir / fname, filesystem, target, max_bytes_per_second=rate)
        log(f"uploaded {fname} -> blobs/{info['sha256']}.parquet ({info['size']} bytes)")
    return reused


def _write_manifest(filesystem, vdir: str, manifest: dict, out_uri) -> None:
    if isinstance(filesystem, pafs.LocalFileSystem):
        Path(vdir).mkdir(parents=True, exist_ok=True)
        publish_manifest_local(Path(vdir), manifest)
        return
    path = storage.join(vdir, mf.MANIFEST_NAME)
    if not isinstance(filesystem, pafs.S3FileSystem):
        raise mf.ReleaseError(f"{out_uri}: publishing needs a local path or s3:// (got {type(filesystem).__name__})")
    try:  # a conditional PUT: of two publishers of one version, exactly one wins
        storage.put_if_absent_s3(path, mf.dumps(manifest))
    except FileExistsError as exc:
        raise mf.ReleaseExistsError(f"{out_uri}: release {manifest['version']} already exists; versions are immutable") from exc

