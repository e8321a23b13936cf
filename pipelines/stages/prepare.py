"""prepare: load an Asset's file, validate, normalize into the unit cube, compute stats, filter.

A file that fails to load ends in quarantine with the loader's "PATH: reason"; a mesh a filter
refuses ends there with the filter's reason (error class `Rejected`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from partverse.errors import ConfigError
from partverse.records import Asset, PreparedMesh
from pipelines.stage import Rejected, Resources, Stage


@dataclass
class Prepare(Stage):
    name = "prepare"
    version = "1"
    resources = Resources(num_cpus=1)

    min_faces: int = 1
    max_faces: int = 5_000_000

    def __post_init__(self):
        if self.min_faces < 1 or self.max_faces < self.min_faces:
            raise ConfigError(f"min_faces/max_faces: need 1 <= min_faces <= max_faces, got {self.min_faces}/{self.max_faces}")

    def process(self, record: Asset) -> Iterator[PreparedMesh]:
        from partverse.geometry.normalize import normalize
        from partverse.geometry.stats import mesh_stats
        from partverse.io import load

        mesh = load(record.path)
        mesh.source = record.source_uri or mesh.source
        reasons = self._reasons(mesh)
        if reasons:
            raise Rejected(f"{record.source_uri}: {'; '.join(reasons)}")
        mesh = normalize(mesh)
        yield PreparedMesh(asset=record, mesh=mesh, stats=mesh_stats(mesh))

    def _reasons(self, mesh) -> list[str]:
        from partverse.geometry import filters

        return filters.filter_reasons(mesh, min_faces=self.min_faces, max_faces=self.max_faces)
