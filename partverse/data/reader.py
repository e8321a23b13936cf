"""Read release tables with the schema version check (a shard of an unknown major version is refused)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from partverse.data import manifest as mf
from partverse.data import storage
from partverse.data.location import locate, not_a_release
from partverse.data.schema import check_schema_version


def read_manifest(release: str | Path) -> dict[str, Any]:
    """The manifest of a release directory (or a published version URI); NotAReleaseError if none."""
    filesystem, base = storage.resolve(release)
    path = storage.join(base, mf.MANIFEST_NAME)
    if not storage.exists(filesystem, path):
        raise not_a_release(release, filesystem, base)
    return mf.loads(storage.read_bytes(filesystem, path), str(release))


def open_parquet(path: str | Path, filesystem=None, verify_pages: bool = True) -> pq.ParquetFile:
    """A ParquetFile whose schema version has been checked; page CRCs are verified on read unless
    `verify_pages` is False (for files whose sha256 was already checked)."""
    return open_parquet_source(path, filesystem, verify_pages)[0]


def open_parquet_source(path: str | Path, filesystem=None, verify_pages: bool = True):
    """(ParquetFile, the random-access file under it) for readers that also read pages directly."""
    if filesystem is None:
        filesystem, path = storage.resolve(path)
    source = filesystem.open_input_file(str(path))
    pf = pq.ParquetFile(source, page_checksum_verification=verify_pages)
    check_schema_version(pf.schema_arrow, str(path))
    return pf, source


def read_table(path: str | Path, columns: Sequence[str] | None = None, filesystem=None, *,
               verify_pages: bool = True, use_threads: bool = True) -> pa.Table:
    """One shard as an Arrow table (only `columns` if given), after the schema version check.
    use_threads=False for small reads (a thread pool costs more CPU than it saves there)."""
    pf = open_parquet(path, filesystem, verify_pages)
    _check_columns(pf.schema_arrow, columns, str(path))
    return pf.read(columns=list(columns) if columns else None, use_threads=use_threads)


def _check_columns(schema: pa.Schema, columns: Sequence[str] | None, where: str) -> None:
    missing = [c for c in columns or () if c not in schema.names]
    if missing:
        raise mf.ReleaseError(f"{where}: no column(s) {missing}; columns: {schema.names}")


def read_release_table(release: str | Path, table: str, columns: Sequence[str] | None = None) -> pa.Table:
    """A whole table of a release (a release directory or one published version, `location.locate`),
    shards concatenated in order."""
    where = locate(release)
    parts = [read_table(path, columns, where.filesystem) for path in where.table_paths(table)]
    return pa.concat_tables(parts) if parts else pa.table({})
