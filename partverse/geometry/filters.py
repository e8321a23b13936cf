"""Configurable filters over `mesh_stats`: each returns a rejection reason or None."""
from __future__ import annotations

from dataclasses import dataclass, fields

from partverse.errors import ConfigError


@dataclass(frozen=True)
class FilterConfig:
    """Limits a prepared mesh must meet; None disables a limit. Checked when built."""

    min_faces: int | None = 4
    max_faces: int | None = 2_000_000
    min_artist_parts: int | None = None
    max_artist_parts: int | None = None
    max_components: int | None = None
    max_degenerate_fraction: float | None = 0.5
    max_non_manifold_fraction: float | None = None  # non-manifold edges / faces
    require_texture: bool = False

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "require_texture":
                if not isinstance(value, bool):
                    raise ConfigError(f"FilterConfig.require_texture = {value!r}: must be true or false")
                continue
            if value is None:
                continue
            is_fraction = f.name.endswith("fraction")
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) if is_fraction else isinstance(value, int) and not isinstance(value, bool)
            if not ok or value < 0 or (is_fraction and value > 1):
                allowed = "a number in [0, 1] or null" if is_fraction else "a non-negative integer or null"
                raise ConfigError(f"FilterConfig.{f.name} = {value!r}: must be {allowed}")

    @classmethod
    def from_dict(cls, values: dict) -> "FilterConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"FilterConfig: unknown field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**values)


def check_filters(stats: dict, config: FilterConfig = FilterConfig()) -> str | None:
    """The first reason `stats` (from `mesh_stats`) fails `config`, or None if it passes."""
    faces = stats["faces"]
    checks = [
        (config.min_faces, lambda v: faces < v, lambda v: f"too few faces: {faces} < {v}"),
        (config.max_faces, lambda v: faces > v, lambda v: f"too many faces: {faces} > {v}"),
        (config.min_artist_parts, lambda v: stats["artist_parts"] < v, lambda v: f"too few artist parts: {stats['artist_parts']} < {v}"),
        (config.max_artist_parts, lambda v: stats["artist_parts"] > v, lambda v: f"too many artist parts: {stats['artist_parts']} > {v}"),
        (config.max_components, lambda v: stats["components"] > v, lambda v: f"too many connected components: {stats['components']} > {v}"),
        (config.max_degenerate_fraction, lambda v: stats["degenerate_faces"] > v * faces,
         lambda v: f"too many degenerate faces: {stats['degenerate_faces']} of {faces} > {v:.0%}"),
        (config.max_non_manifold_fraction, lambda v: stats["non_manifold_edges"] > v * faces,
         lambda v: f"too many non-manifold edges: {stats['non_manifold_edges']} for {faces} faces > {v:.0%}"),
    ]
    for limit, fails, reason in checks:
        if limit is not None and fails(limit):
            return reason(limit)
    if config.require_texture and not stats["textured"]:
        return "no texture (require_texture is set)"
    return None


def reject_reason(mesh, config: FilterConfig = FilterConfig()) -> str | None:
    """`check_filters(mesh_stats(mesh), config)`: why `mesh` is rejected, or None if it passes."""
    from partverse.geometry.stats import mesh_stats

    return check_filters(mesh_stats(mesh), config)
