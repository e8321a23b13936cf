"""Objaverse 1.0: object paths, metadata shards, LVIS annotations, GLBs, in the shared cache.

A cached index file is decoded before use; a truncated one (the `objaverse` package writes
these in place) is fetched again and replaced atomically instead of being trusted.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable, Iterator

from partverse.objaverse.http import ContentError, Fetcher
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.validate import check_gzip_json, load_gzip_json

OBJECT_PATHS = "object-paths.json.gz"
LVIS = "lvis-annotations.json.gz"


class ObjaverseV1:
    """Index and metadata access for Objaverse 1.0 over one cache layout and one fetcher."""

    def __init__(self, layout: CacheLayout, fetcher: Fetcher):
        self.layout, self.fetcher = layout, fetcher
        self._object_paths: dict[str, str] | None = None
        self._object_paths_lock = threading.Lock()  # download threads ask for it together

    def _json_gz(self, rel: str):
        """Decode `rel` from the cache, (re-)fetching it when absent or corrupt."""
        path = self.layout.v1_file(rel)
        if path.exists():
            try:
                return load_gzip_json(path)
            except ContentError:
                pass  # truncated in place by an earlier writer: fetch a fresh copy
        self.fetcher.fetch(self.layout.v1_url(rel), path, validate=check_gzip_json)
        return load_gzip_json(path)

    def object_paths(self) -> dict[str, str]:
        """uid -> "glbs/000-NNN/<uid>.glb" (fetched and decoded once, whichever thread asks first)."""
        if self._object_paths is None:
            with self._object_paths_lock:
                if self._object_paths is None:
                    self._object_paths = self._json_gz(OBJECT_PATHS)
        return self._object_paths

    def lvis(self) -> dict[str, list[str]]:
        """LVIS category -> uids."""
        return self._json_gz(LVIS)

    def metadata_shards_for(self, uids: Iterable[str] | None) -> list[str]:
        """Shard ids ("000-NNN") holding the metadata of `uids` (every shard named in
        object-paths when None: 000-000 ... 000-159 on the real dataset)."""
        paths = self.object_paths()
        if uids is None:
            return sorted({p.split("/")[1] for p in paths.values()})
        return sorted({paths[u].split("/")[1] for u in uids if u in paths})

    def iter_metadata(self, uids: Iterable[str] | None = None) -> Iterator[tuple[str, dict]]:
        """(uid, Sketchfab metadata: name, tags, categories, license, faceCount, vertexCount, ...),
        one shard in memory at a time (the whole dataset's metadata is several GB decoded)."""
        wanted = None if uids is None else set(uids)
        for shard in self.metadata_shards_for(wanted):
            data = self._json_gz(f"metadata/{shard}.json.gz")
            for uid, meta in data.items():
                if wanted is None or uid in wanted:
                    yield uid, meta
            del data

    def metadata(self, uids: Iterable[str] | None = None) -> dict[str, dict]:
        """uid -> metadata for `uids` (every object when None; prefer `iter_metadata` at scale)."""
        return dict(self.iter_metadata(uids))

    def glb_rel(self, uid: str) -> str:
        try:
            return self.object_paths()[uid]
        except KeyError:
            raise KeyError(f"uid {uid!r} is not in {OBJECT_PATHS}") from None

    def glb_path(self, uid: str) -> Path:
        return self.layout.v1_file(self.glb_rel(uid))
