"""objaverse_select / objaverse_download: Objaverse 1.0 and XL objects -> Assets in the store.

The pipeline has one source step (`SourceStage`): `discover()` lists the objects and
`process()` turns one into an Asset in the content-addressed store. Both stages download in
`process()` (timeouts, retries with backoff, sha256 / structure checks, per-host rate limit);
a failure raises `DownloadError`, whose message starts with the URL and the reason code
("sha256_mismatch", "http_404", "timeout", "lfs_object_missing", ...), so the object lands in
quarantine with that reason and the batch goes on. They differ in `discover()`:
- `objaverse_select` runs the selection from its own parameters (filters);
- `objaverse_download` reads a selection Parquet made by `partverse objaverse select --out`.
With `prefetch` (default) `discover()` also downloads the selection on `workers` threads so the
sequential local executor is not limited to one download at a time; `process()` then finds the
verified file in the cache. Turn it off on a Ray cluster so the workers download.
Licence, source and the Objaverse metadata travel in `Asset.license`, `.source`, `.metadata`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

from partverse.errors import ConfigError
from partverse.objaverse.selection import SelectionSpec
from partverse.records import Asset
from pipelines.records import SourceFile
from pipelines.stage import Resources, SourceStage


@dataclass
class _ObjaverseSource(SourceStage):
    extras = ("objaverse",)
    resources = Resources(num_cpus=1, timeout_s=1800.0)
    path_params = ("cache_dir", "store_dir", "uids_file", "selection")  # those of them the stage has

    cache_dir: str | None = None  # default: $PARTVERSE_OBJAVERSE_CACHE or ~/.objaverse
    v1_base_url: str | None = None  # default: the Hugging Face dataset allenai/objaverse
    xl_base_url: str | None = None  # default: allenai/objaverse-xl
    git_base_url: str = "https://github.com"
    thingiverse_url: str | None = None  # default: https://www.thingiverse.com
    attempts: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 600.0
    backoff_base_s: float = 0.5
    max_backoff_s: float = 30.0
    rate_per_host: float | None = None  # requests per second per host and worker process
    max_per_host: int = 8
    workers: int = 8
    prefetch: bool = True
    store_dir: str | None = None  # filled from the build config's store_dir

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"{self.name}.workers: {self.workers!r} must be >= 1")
        self._clients = None

    # -- clients ---------------------------------------------------------------------------
    def setup(self) -> None:
        self._client_bundle()

    def _client_bundle(self):
        if self._clients is None:
            from partverse.objaverse.http import Fetcher, HostLimiter, RetryPolicy
            from partverse.objaverse.layout import CacheLayout
            from partverse.objaverse.sources import XLAnnotations
            from partverse.objaverse.v1 import ObjaverseV1

            layout = CacheLayout.create(self.cache_dir, self.v1_base_url, self.xl_base_url, self.thingiverse_url)
            policy = RetryPolicy(self.attempts, self.connect_timeout_s, self.read_timeout_s,
                                 self.total_timeout_s, self.backoff_base_s, self.max_backoff_s)
            fetcher = Fetcher(layout.tmp, policy, HostLimiter(self.rate_per_host, 1, self.max_per_host),
                              max_connections=max(self.workers, self.max_per_host))
            self._clients = (layout, fetcher, ObjaverseV1(layout, fetcher), XLAnnotations(layout, fetcher))
        return self._clients

    def __getstate__(self):  # stages are shipped to Ray workers: never pickle open clients
        state = dict(self.__dict__)
        state["_clients"] = None
        return state

    # -- discover ---------------------------------------------------------------------------
    def _rows(self) -> list[dict]:
        raise NotImplementedError

    def discover(self) -> list[SourceFile]:
        rows = self._rows()
        if self.prefetch and rows:
            from partverse.objaverse.batch import download_selection

            layout, fetcher, v1, _ = self._client_bundle()
            for _ in download_selection(rows, layout, fetcher, v1, workers=self.workers,
                                        git_options={"git_base_url": self.git_base_url}):
                pass  # failures are retried and reported per object by process()
        return [SourceFile(path="", source=r["source"], source_uri=r["file_identifier"],
                           license=r["license"], metadata={"objaverse": _jsonable(r)}) for r in rows]

    # -- process ----------------------------------------------------------------------------
    def process(self, record: SourceFile) -> Iterator[Asset]:
        from partverse.io.store import ContentStore
        from partverse.objaverse.batch import download_row
        from partverse.objaverse.http import DownloadError
        from pipelines.stages.ingest_local import find_sidecars

        if self.store_dir is None:
            raise ConfigError(f"{self.name}.store_dir: not set (the build fills it from the config's store_dir)")
        row = record.metadata["objaverse"]
        layout, fetcher, v1, _ = self._client_bundle()
        if row["source"] == "objaverse-xl/github":
            from partverse.objaverse.git_source import download_github_rows

            outcome = next(download_github_rows([row], layout, self.git_base_url, self.total_timeout_s))
        else:
            outcome = download_row(row, layout, fetcher, v1)
        if outcome.status == "failed":
            raise DownloadError(row["file_identifier"], outcome.reason, outcome.detail or "", outcome.attempts)
        main = Path(outcome.path)  # a .gltf / .obj from a GitHub checkout keeps its buffers, .mtl, textures
        sidecars = {rel: Path(p) for rel, p in find_sidecars(main).items()}
        entry = ContentStore(self.store_dir).put_file(main, sidecars)
        if row.get("sha256") and not sidecars and entry.sha256 != row["sha256"]:
            raise DownloadError(row["file_identifier"], "sha256_mismatch",
                                f"store holds {entry.sha256}, annotation says {row['sha256']}", 0)
        yield Asset(uid=row["uid"], source=row["source"], source_uri=row["file_identifier"],
                    sha256=entry.sha256, license=row["license"], path=str(entry.path),
                    metadata={**_asset_metadata(row, outcome), "sidecars": sorted(sidecars)})


def _jsonable(row: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items()}


def _asset_metadata(row: dict, outcome) -> dict:
    meta = json.loads(row["metadata_json"]) if row.get("metadata_json") else {}
    return {"file_name": Path(outcome.path).name, "license_raw": row.get("license_raw"),
            "file_type": row.get("file_type"), "name": row.get("name"), "tags": list(row.get("tags") or []),
            "lvis_categories": list(row.get("lvis_categories") or []), "face_count": row.get("face_count"),
            "cache_path": outcome.path, "download_attempts": outcome.attempts, "objaverse": meta}


@dataclass
class ObjaverseSelect(_ObjaverseSource, SelectionSpec):
    """Select with filters (the fields of `partverse.objaverse.selection.SelectionSpec`), then download."""

    name = "objaverse_select"
    version = "1"

    def __post_init__(self) -> None:
        _ObjaverseSource.__post_init__(self)
        SelectionSpec.__post_init__(self)  # validate the filters when the config is built

    def spec(self) -> SelectionSpec:
        names = {f.name for f in fields(SelectionSpec)}
        return SelectionSpec(**{k: v for k, v in asdict(self).items() if k in names})

    def _rows(self) -> list[dict]:
        from partverse.objaverse.selection import select

        _, _, v1, xl = self._client_bundle()
        spec = self.spec()
        needs_xl = any(s.startswith("xl-") for s in spec.sources) or spec.v1_checksums
        return select(spec, v1=v1, xl=xl if needs_xl else None).table.to_pylist()


@dataclass
class ObjaverseDownload(_ObjaverseSource):
    """Download the rows of a selection Parquet (`partverse objaverse select --out FILE`)."""

    name = "objaverse_download"
    version = "1"

    selection: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.selection or not Path(self.selection).expanduser().is_file():
            raise ConfigError(f"objaverse_download.selection: {self.selection!r}: give an existing "
                              "selection Parquet made by `partverse objaverse select --out`")

    def _rows(self) -> list[dict]:
        import pyarrow.parquet as pq

        return pq.read_table(Path(self.selection).expanduser()).to_pylist()
