"""Segmentation methods on a `Mesh`: geometric, and `auto` (artist prior refined by geometry and,
when a SAM-2 model is given, by SAM-2 masks lifted to faces).

Rules of the combination:
- segments never straddle two artist pieces (connected pieces of the artist's parts) unless
  `merge_artist=True` or `num_parts` is below the number of artist pieces (then the artist prior's
  own bottom-up merge, `artist.merge_smallest`, reduces them: merging was asked for);
- inside an artist piece, geometry splits at creases; SAM-2 evidence (a link whose two faces got
  different lifted SAM-2 labels) counts as a full-strength crease: superfaces and refined borders
  stop there, and in the merge hierarchy such a link keeps `geometric.EVIDENCE_WEIGHT` of its
  weight, so SAM-2 borders merge late (association x 1e-6), among themselves in geometric order;
- one `granularity` knob (higher -> more segments, each result refining the coarser ones) and
  `num_parts` for a target count.
"""
from __future__ import annotations

import numpy as np

from partverse.geometry.adjacency import face_adjacency, relabel_by_first_occurrence, weld_vertices
from partverse.records import Mesh
from partverse.segment.artist import artist_segmentation, merge_smallest
from partverse.segment.geometric import GeometricConfig, cut_hierarchy, geometric_hierarchy


def _reduce_to(mesh: Mesh, labels: np.ndarray, num_parts: int | None) -> np.ndarray:
    """When the hierarchy cannot reach `num_parts` (disconnected pieces), merge smallest-first."""
    if num_parts is None or labels.max() + 1 <= num_parts:
        return labels
    pairs, _ = face_adjacency(weld_vertices(mesh.vertices, mesh.faces))
    return np.asarray(merge_smallest(mesh, labels, pairs, int(num_parts)), dtype=np.int64)


def geometric_segmentation(mesh: Mesh, granularity: float = 1.0, num_parts: int | None = None, seed: int = 0) -> np.ndarray:
    """(F,) int32 labels from geometry alone (the artist's structure is ignored)."""
    config = GeometricConfig(granularity=granularity, num_parts=num_parts, seed=seed)
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config)
    return _reduce_to(mesh, cut_hierarchy(hierarchy, config), num_parts).astype(np.int32)


def auto_segmentation(
    mesh: Mesh,
    granularity: float = 1.0,
    num_parts: int | None = None,
    sam2: str | None = None,
    merge_artist: bool = False,
    seed: int = 0,
    **sam2_options,
) -> np.ndarray:
    """(F,) int32 labels: artist pieces refined by geometry (+ SAM-2 when `sam2` names a model)."""
    artist = artist_segmentation(mesh).astype(np.int64)
    if num_parts is not None and not merge_artist and artist.max() + 1 >= num_parts:
        return artist_segmentation(mesh, max_parts=int(num_parts))
    evidence = None
    if sam2 is not None:
        from partverse.segment.samesh import samesh_labels

        evidence = samesh_labels(mesh, sam2, seed=seed, **sam2_options)
    config = GeometricConfig(granularity=granularity, num_parts=num_parts, seed=seed)
    group = None if merge_artist else artist
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config, face_group=group, face_evidence=evidence)
    labels = cut_hierarchy(hierarchy, config)
    return relabel_by_first_occurrence(_reduce_to(mesh, labels, num_parts)).astype(np.int32)


def samesh_segmentation(mesh: Mesh, sam2: str | None = None, granularity: float = 1.0, num_parts: int | None = None,
                        seed: int = 0, **sam2_options) -> np.ndarray:
    """(F,) int32 labels from SAM-2 masks lifted to faces alone (the Samesh method), reduced to
    `num_parts` when given by the geometric hierarchy over the SAM-2 segments (merged in the
    order geometry gives them, their borders refined)."""
    from partverse.errors import ConfigError
    from partverse.segment.samesh import samesh_labels

    if sam2 is None:
        raise ConfigError("method 'samesh' needs a SAM-2 model: pass sam2=PATH_OR_HUB_ID (CLI: --sam2)")
    labels = samesh_labels(mesh, sam2, seed=seed, **sam2_options)
    if num_parts is None:
        return labels.astype(np.int32)
    config = GeometricConfig(granularity=granularity, num_parts=num_parts, seed=seed)
    # superfaces = SAM-2 segments: merge them by the same normalized association
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config, face_evidence=labels, regions=labels)
    return relabel_by_first_occurrence(_reduce_to(mesh, cut_hierarchy(hierarchy, config), num_parts)).astype(np.int32)
