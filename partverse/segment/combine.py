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
from partverse.segment.artist import artist_pieces, artist_segmentation, merge_smallest
from partverse.segment.geometric import GeometricConfig, cut_hierarchy, geometric_hierarchy


def _reduce_to(mesh: Mesh, labels: np.ndarray, num_parts: int | None, welded: np.ndarray | None = None,
               group: np.ndarray | None = None) -> np.ndarray:
    """When the hierarchy cannot reach `num_parts` (disconnected pieces), merge smallest-first
    (`artist.merge_smallest`) over the face adjacency of `welded` (F, 3) (default: `weld_vertices`).
    With `group` (F,) (the artist pieces), only segments of one group merge, and a segment that is
    a whole group stays: never more merges than the groups allow."""
    if num_parts is None or labels.max() + 1 <= num_parts:
        return labels
    pairs, _ = face_adjacency(weld_vertices(mesh.vertices, mesh.faces) if welded is None else welded)
    if group is not None:
        pairs = pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
    return np.asarray(merge_smallest(mesh, labels, pairs, int(num_parts), dust=group is None), dtype=np.int64)


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
    """(F,) int32 labels: artist pieces refined by geometry (+ SAM-2 when `sam2` names a model).
    The face graph is built on the artist pieces' own weld (`artist.artist_pieces`), so the
    hierarchy can merge each piece into one segment, and `num_parts` >= the number of pieces
    is reached without crossing pieces (down to one segment per piece)."""
    config = GeometricConfig(granularity=granularity, num_parts=num_parts, seed=seed)  # checked before any work
    artist, welded = artist_pieces(mesh)
    if num_parts is not None and not merge_artist and artist.max() + 1 >= num_parts:
        return artist_segmentation(mesh, max_parts=int(num_parts))
    evidence = None
    if sam2 is not None:
        from partverse.segment.samesh import samesh_labels

        evidence = samesh_labels(mesh, sam2, seed=seed, **sam2_options)
    group = None if merge_artist else artist
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config, face_group=group, face_evidence=evidence,
                                       welded=welded)
    labels = cut_hierarchy(hierarchy, config)
    return relabel_by_first_occurrence(_reduce_to(mesh, labels, num_parts, welded, group)).astype(np.int32)


def samesh_segmentation(mesh: Mesh, sam2: str | None = None, granularity: float | None = None,
                        num_parts: int | None = None, seed: int = 0, **sam2_options) -> np.ndarray:
    """(F,) int32 labels from SAM-2 masks lifted to faces alone (the Samesh method). With
    `num_parts` or `granularity`, the SAM-2 segments are then merged by the geometric hierarchy
    over them (in the order geometry gives them, their borders refined): to `num_parts`
    segments, or keeping the merges whose association reaches the same threshold `granularity`
    sets for geometry (higher -> more segments; never more than SAM-2 gave). Without either, the
    lifted segments as they are."""
    from partverse.errors import ConfigError
    from partverse.segment.geometric import EVIDENCE_WEIGHT
    from partverse.segment.samesh import samesh_labels

    if sam2 is None:
        raise ConfigError("method 'samesh' needs a SAM-2 model: pass sam2=PATH_OR_HUB_ID (CLI: --sam2)")
    config = GeometricConfig(granularity=1.0 if granularity is None else granularity, num_parts=num_parts,
                             seed=seed)  # checked before SAM-2 runs
    labels = samesh_labels(mesh, sam2, seed=seed, **sam2_options)
    if num_parts is None and granularity is None:
        return labels.astype(np.int32)
    # superfaces = SAM-2 segments: merge them by the same normalized association; every border
    # between two of them is across evidence, so every association is scaled by EVIDENCE_WEIGHT ** 2
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config, face_evidence=labels, regions=labels)
    cut = cut_hierarchy(hierarchy, config, affinity_scale=EVIDENCE_WEIGHT ** 2)
    return relabel_by_first_occurrence(_reduce_to(mesh, cut, num_parts)).astype(np.int32)
