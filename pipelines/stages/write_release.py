"""write_release: every object's rows -> `RUN_DIR/release/` (Parquet shards + manifest last).

Tables: objects, parts and captions (the caption rows export_parts carried on; empty when the
config has no caption stage).

The shards are written by `partverse.data.writer.write_release` into `RUN_DIR/.release.partial/`,
which then replaces `RUN_DIR/release/`; a crash at any point leaves either the previous complete
release or none, never a half-written one, and the next build rewrites it.
"""
from __future__ import annotations

import os
import shutil
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from partverse.errors import ConfigError
from pipelines.records import ObjectRows
from pipelines.stage import Resources, SinkStage

RELEASE_DIR = "release"
_PARTIAL = ".release.partial"
_OLD = ".release.old"


@dataclass
class WriteRelease(SinkStage):
    name = "write_release"
    version = "1"
    resources = Resources(num_cpus=1)

    release_version: str = "0.1.0"  # the release's semantic version
    rows_per_shard: int = 2048  # target parts rows per shard
    row_group_rows: int = 64  # rows per Parquet row group (the unit a streaming reader fetches)

    def __post_init__(self):
        from partverse.data.manifest import ReleaseError, check_version

        try:
            check_version(self.release_version)
        except ReleaseError as exc:
            raise ConfigError(f"release_version: {exc}") from None
        if self.rows_per_shard < 1 or self.row_group_rows < 1:
            raise ConfigError(f"rows_per_shard/row_group_rows: must be >= 1, got {self.rows_per_shard}/{self.row_group_rows}")

    def is_current(self, run_dir: Path) -> bool:
        return (run_dir / RELEASE_DIR / "manifest.json").is_file()

    def write(self, records: Iterable[ObjectRows], run_dir: Path, *, source_run: str) -> dict[str, Any]:
        from partverse.data.writer import write_release

        partial, final, old = run_dir / _PARTIAL, run_dir / RELEASE_DIR, run_dir / _OLD
        for stale in (partial, old):
            shutil.rmtree(stale, ignore_errors=True)
        tables = _RowFanout(records)
        write_release(partial, tables.stream("objects"), tables.stream("parts"), tables.stream("captions"),
                      version=self.release_version, source_run=source_run,
                      rows_per_shard=self.rows_per_shard, row_group_rows=self.row_group_rows)
        if final.exists():
            os.rename(final, old)
        os.rename(partial, final)
        shutil.rmtree(old, ignore_errors=True)
        return dict(tables.counts)


class _RowFanout:
    """One pass over records sorted by uid, split into the three tables' row streams.

    `write_release` consumes the streams in lockstep by uid, so only about one object's rows are
    buffered: a release of any size is written in bounded memory (records are loaded one by one)."""

    def __init__(self, records: Iterable[ObjectRows]):
        self._records = iter(records)
        self._queues: dict[str, deque] = {"objects": deque(), "parts": deque(), "captions": deque()}
        self.counts = {"objects": 0, "parts": 0, "captions": 0}

    def _pull(self) -> bool:
        rec = next(self._records, None)
        if rec is None:
            return False
        by_part = lambda r: r["part_id"]  # noqa: E731
        rows = {"objects": [rec.object_row], "parts": sorted(rec.part_rows, key=by_part),
                "captions": sorted(getattr(rec, "captions", None) or [], key=by_part)}  # older builds: none
        for name, table_rows in rows.items():
            self._queues[name].extend(table_rows)
            self.counts[name] += len(table_rows)
        return True

    def stream(self, name: str) -> Iterator[dict[str, Any]]:
        queue = self._queues[name]
        while queue or self._pull():
            if queue:
                yield queue.popleft()
