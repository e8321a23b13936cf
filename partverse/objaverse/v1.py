"""Objaverse 1.0: object paths, metadata shards, LVIS annotations, GLBs, in the shared cache.

A cached index file is decoded before use; a truncated one (the `objaverse` package writes
these in place) is fetched again and replaced atomically instead of being trusted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

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
        """uid -> "glbs/000-NNN/<uid>.glb"."""
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

    def metadata(self, uids: Iterable[str] | None = None) -> dict[str, dict]:
        """uid -> Sketchfab metadata (name, tags, categories, license, faceCount, vertexCount, ...)."""
        wanted = None if uids is None else set(uids)
        out: dict[str, dict] = {}
        for shard in self.metadata_shards_for(wanted):
            data = self._json_gz(f"metadata/{shard}.json.gz")
            if wanted is None:
                out.update(data)
            else:
                out.update({u: m for u, m in data.items() if u in wanted})
        return out

    def glb_rel(self, uid: str) -> str:
        try:
            return self.object_paths()[uid]
        except KeyError:
            raise KeyError(f"uid {uid!r} is not in {OBJECT_PATHS}") from None

    def glb_path(self, uid: str) -> Path:
        return self.layout.v1_file(self.glb_rel(uid))
