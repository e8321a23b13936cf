"""Where Objaverse files live: remote URLs and the local cache (same layout as the `objaverse` package).

The `objaverse` package (0.1.7) keeps Objaverse 1.0 under `~/.objaverse/hf-objaverse-v1/`
(`object-paths.json.gz`, `metadata/000-NNN.json.gz`, `lvis-annotations.json.gz`,
`glbs/000-NNN/<uid>.glb`) and Objaverse-XL annotations under `~/.objaverse/<source>/<source>.parquet`.
Sharing the layout means either tool sees the other's finished files as already downloaded.
Partial downloads live in `<root>/.partverse-tmp/`, never under a final name.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

V1_BASE_URL = "https://huggingface.co/datasets/allenai/objaverse/resolve/main"
XL_BASE_URL = "https://huggingface.co/datasets/allenai/objaverse-xl/resolve/main"
THINGIVERSE_URL = "https://www.thingiverse.com"
V1_DIR = "hf-objaverse-v1"
NUM_METADATA_SHARDS = 160
XL_SOURCES = ("github", "sketchfab", "smithsonian", "thingiverse")
CACHE_ENV = "PARTVERSE_OBJAVERSE_CACHE"


def default_cache_root() -> Path:
    """`$PARTVERSE_OBJAVERSE_CACHE`, else `~/.objaverse` (the `objaverse` package's BASE_PATH)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".objaverse"


def shard_id(index: int) -> str:
    """Metadata / GLB shard name: 0 -> "000-000", 159 -> "000-159"."""
    return f"{index // 1000:03d}-{index % 1000:03d}"


@dataclass(frozen=True)
class CacheLayout:
    """Local cache paths and remote URLs for one cache root and base URLs."""

    root: Path
    v1_base_url: str = V1_BASE_URL
    xl_base_url: str = XL_BASE_URL
    thingiverse_url: str = THINGIVERSE_URL

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, v1_base_url: str | None = None,
               xl_base_url: str | None = None, thingiverse_url: str | None = None) -> "CacheLayout":
        return cls(Path(root).expanduser() if root else default_cache_root(),
                   (v1_base_url or V1_BASE_URL).rstrip("/"), (xl_base_url or XL_BASE_URL).rstrip("/"),
                   (thingiverse_url or THINGIVERSE_URL).rstrip("/"))

    @property
    def v1(self) -> Path:
        return self.root / V1_DIR

    @property
    def tmp(self) -> Path:
        return self.root / ".partverse-tmp"

    def v1_file(self, rel: str) -> Path:
        """`rel` is the path inside the dataset repo, e.g. "glbs/000-001/<uid>.glb"."""
        return self.v1 / rel

    def v1_url(self, rel: str) -> str:
        return f"{self.v1_base_url}/{rel}"

    def xl_annotations_file(self, source: str) -> Path:
        return self.root / source / f"{source}.parquet"

    def xl_annotations_url(self, source: str) -> str:
        return f"{self.xl_base_url}/{source}/{source}.parquet"

    def xl_object_file(self, source: str, file_identifier: str, file_type: str) -> Path:
        """XL objects fetched over HTTP: `<source>/objects/<uuid5(fileIdentifier)>.<type>`,
        the name the `objaverse` package gives Smithsonian objects."""
        uid = str(uuid.uuid5(uuid.NAMESPACE_DNS, file_identifier))
        return self.root / source / "objects" / f"{uid}.{file_type.lower().lstrip('.')}"

    def thingiverse_url_for(self, file_identifier: str) -> str:
        """Thingiverse serves a file by its id: fileIdentifier "...thing:<thing>/files?fileId=<id>"
        -> "<thingiverse>/download:<id>" (as the `objaverse` package does)."""
        return f"{self.thingiverse_url}/download:{file_identifier.split('fileId=')[-1]}"

    def github_checkout(self, org: str, repo: str, commit: str) -> Path:
        return self.root / "github" / "repos" / org / repo / commit
