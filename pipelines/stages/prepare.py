"""prepare: load an Asset's file, validate, normalize into the unit cube, compute stats, filter.

A file that fails to load ends in quarantine with the loader's "PATH: reason"; a mesh a filter
refuses ends there with the filter's reason (error class `Rejected`). `filters` are the fields of
`partverse.geometry.filters.FilterConfig` (min_faces, max_faces, max_components, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from partverse.errors import MeshLoadError
from partverse.records import Asset, PreparedMesh
from pipelines.stage import Rejected, Resources, Stage


@dataclass
class Prepare(Stage):
    name = "prepare"
    version = "1"
    resources = Resources(num_cpus=1)

    filters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        from partverse.geometry.filters import FilterConfig

        FilterConfig.from_dict(self.filters)  # raises ConfigError naming the field and allowed values

    def process(self, record: Asset) -> Iterator[PreparedMesh]:
        from partverse.geometry.filters import FilterConfig, check_filters
        from partverse.geometry.normalize import normalize
        from partverse.geometry.stats import mesh_stats
        from partverse.io import load

        try:
            mesh = normalize(load(record.path))
        except MeshLoadError as exc:  # name the input as the user gave it, not its place in the store
            raise MeshLoadError(record.source_uri or exc.path, exc.reason) from None
        mesh.metadata["uid"] = record.uid
        stats = mesh_stats(mesh)
        reason = check_filters(stats, FilterConfig.from_dict(self.filters))
        if reason:
            raise Rejected(f"{record.source_uri}: {reason}")
        yield PreparedMesh(asset=record, mesh=mesh, stats=stats)
