"""Pull a release to a local directory (resumable, sha256-verified) and verify releases in place.

`pull(version, from_uri, to_dir)` copies every file of the chosen tables to `DIR/<name>` through
`DIR/.<name>.part` (a killed pull resumes from the bytes already there), checks each file's
sha256 against the manifest (a corrupt byte fails naming the shard), records the verified files
(`partverse.data.verified`: readers then skip page CRCs for files unchanged since) and writes
`DIR/manifest.json` last. With `columns`, only those columns are fetched (Parquet column chunks, ranged reads, page
CRCs verified); the local files then differ from the published ones and the local manifest
records the projection and the new sha256s.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pyarrow import fs as pafs

from partverse.data import manifest as mf
from partverse.data.location import ReleaseLocation, locate
from partverse.data.reader import open_parquet
from partverse.data.transfer import check_file, download
from partverse.data.verified import file_stat, record_verified, stat_or_none
from partverse.data.writer import file_digest, publish_manifest_local, write_parquet


def pull(
    version: str | None,
    from_uri: str | Path,
    to_dir: str | Path,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    max_bytes_per_second: float | None = None,
    log=print,
) -> dict[str, Any]:
    """Download (part of) a release into `to_dir`; return the local manifest."""
    loc = locate(from_uri, version)
    to_dir = Path(to_dir)
    tables = list(tables or loc.manifest["tables"])
    for t in tables:
        mf.table_files(loc.manifest, t)  # raises naming the table if unknown
    if (to_dir / mf.MANIFEST_NAME).exists():
        local = mf.loads((to_dir / mf.MANIFEST_NAME).read_bytes(), str(to_dir))
        if local["version"] != loc.version:
            raise mf.ReleaseExistsError(f"{to_dir}: already holds release {local['version']}, not {loc.version}")
        verify(to_dir)
        log(f"{to_dir}: release {loc.version} already pulled and verified")
        return local
    files: dict[str, dict] = {}
    stats: dict[str, dict] = {}
    for t in tables:
        for name in mf.table_files(loc.manifest, t):
            info = dict(loc.manifest["files"][name])
            if columns:
                info.update(_pull_projection(loc, name, to_dir, columns, info))
            else:
                status = download(loc.filesystem, loc.file_path(name), to_dir / name, name=name, sha256=info["sha256"],
                                  size=info["size"], max_bytes_per_second=max_bytes_per_second)
                log(f"{name}: {status}")
            files[name] = info
            stats[name] = file_stat(to_dir / name)  # just checked (sha256 of the bytes written)
    manifest = _local_manifest(loc, tables, files, columns, str(from_uri))
    card = loc.manifest.get("card")
    if card:
        download(loc.filesystem, loc.card_path(), to_dir / mf.CARD_NAME, name=mf.CARD_NAME, sha256=card["sha256"], size=card["size"])
    record_verified(to_dir, manifest, stats)
    publish_manifest_local(to_dir, manifest)
    log(f"pulled {loc.version} into {to_dir}: {len(files)} files verified")
    return manifest


def _pull_projection(loc: ReleaseLocation, name: str, to_dir: Path, columns: Sequence[str], info: dict) -> dict:
    target = to_dir / name
    to_dir.mkdir(parents=True, exist_ok=True)
    pf = open_parquet(loc.file_path(name), loc.filesystem)
    keep = [c for c in ("uid", "part_id") if c in pf.schema_arrow.names and c not in columns] + list(columns)
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise mf.ReleaseError(f"{name}: no column(s) {missing}; columns: {pf.schema_arrow.names}")
    table = pf.read(columns=keep)
    tmp = to_dir / f".{name}.part"
    rows = loc.manifest.get("row_group_rows", 64)
    if loc.manifest["files"][name].get("table") == "captions":
        rows = loc.manifest.get("captions_row_group_rows", rows)
    write_parquet(table, tmp, rows)
    tmp.replace(target)
    sha, size = file_digest(target)
    return {"sha256": sha, "size": size, "source_sha256": info["sha256"], "columns": keep}


def _local_manifest(loc: ReleaseLocation, tables: list[str], files: dict, columns, from_uri: str) -> dict:
    manifest = {k: v for k, v in loc.manifest.items() if k not in ("layout", "files", "tables")}
    manifest["tables"] = {t: loc.manifest["tables"][t] for t in tables}
    manifest["files"] = files
    manifest["pulled_from"] = from_uri
    if columns:
        manifest["projection"] = list(columns)
    return manifest


def verify(uri: str | Path, version: str | None = None, log=None) -> dict[str, Any]:
    """Check every file of a release (size + sha256) and the card; raise IntegrityError naming every bad file.
    A local release directory gets its verified-files record rewritten with the files that passed."""
    loc = locate(uri, version)
    problems = []
    names = [n for t in loc.manifest["tables"] for n in mf.table_files(loc.manifest, t)]
    local_dir = isinstance(loc.filesystem, pafs.LocalFileSystem) and loc.manifest.get("layout") != "blobs"
    stats: dict[str, dict] = {}
    for name in names:
        info = loc.manifest["files"][name]
        try:
            before = stat_or_none(loc.file_path(name)) if local_dir else None  # a write during the sha256 shows
            check_file(loc.filesystem, loc.file_path(name), name, info["sha256"], info["size"])
            if before:
                stats[name] = before
            if log:
                log(f"ok {name}")
        except mf.IntegrityError as exc:
            problems.append(str(exc))
    card = loc.manifest.get("card")
    if card:
        try:
            check_file(loc.filesystem, loc.card_path(), mf.CARD_NAME, card["sha256"], card["size"])
        except mf.IntegrityError as exc:
            problems.append(str(exc))
    if local_dir:
        _update_record(loc, stats)
    if problems:
        raise mf.IntegrityError(f"{uri}: release {loc.version} failed verification:\n  " + "\n  ".join(problems))
    return {"version": loc.version, "files": len(names), "ok": True}


def _update_record(loc: ReleaseLocation, stats: dict) -> None:
    """Rewrite the verified-files record with the files that just passed (a failed one, even with an
    unchanged mtime as after disk rot, is dropped); a read-only directory keeps its old record."""
    try:
        record_verified(loc.base, loc.manifest, stats)
    except OSError:
        pass
