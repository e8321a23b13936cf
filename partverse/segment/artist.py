"""Artist-prior over-segmentation: the artist's parts, split by face connectivity.

Coincident vertices are welded first so that a part stored as unwelded triangles (common in GLBs
split at UV seams or flat-shaded) is not shattered into single faces. With `max_parts`, the
AutoPartGen rule merges bottom-up: the smallest segment (by area) joins the neighbour it shares the
most edges with, or, when it touches none, the segment closest to it in the artist's node
hierarchy (longest common node path) and then in space, until at most `max_parts` remain.
"""
from __future__ import annotations

import heapq
from collections import Counter

import numpy as np

from partverse.geometry.adjacency import (
    edge_connected_components,
    face_adjacency,
    relabel_by_first_occurrence,
    weld_vertices_radius,
)
from partverse.errors import ConfigError
from partverse.geometry.sampling import face_areas_normals
from partverse.records import Mesh
from partverse.segment.artist_index import PathIndex


def artist_pieces(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """The connected pieces of each artist part: (F,) int64 labels 0..K-1 (numbered by first face),
    and the (F, 3) welded faces they were found on (`weld_vertices_radius`: vertices closer than
    1e-6 x the bounding-box diagonal share an id), so that a caller's face graph can have the
    same connectivity."""
    welded = weld_vertices_radius(mesh.vertices, mesh.faces)
    return edge_connected_components(welded, mesh.face_artist_part), welded


def artist_segmentation(mesh: Mesh, max_parts: int | None = None) -> np.ndarray:
    """(F,) int32 labels 0..K-1 (numbered by first face): connected pieces of each artist part,
    merged bottom-up to at most `max_parts` segments when it is given."""
    if max_parts is not None and (isinstance(max_parts, bool) or not isinstance(max_parts, (int, np.integer))
                                  or max_parts < 1):
        raise ConfigError(f"max_parts = {max_parts!r}: must be a positive integer or None")
    labels, welded = artist_pieces(mesh)
    if max_parts is not None and labels.max(initial=-1) + 1 > max_parts:
        pairs, _ = face_adjacency(welded)
        labels = merge_smallest(mesh, labels, pairs, max_parts)
    return labels.astype(np.int32)


def _segment_tables(mesh: Mesh, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    areas, _ = face_areas_normals(mesh.vertices, mesh.faces)
    centers = mesh.vertices[mesh.faces].mean(axis=1)
    seg_area = np.bincount(labels, weights=areas, minlength=k)
    # centres weighted by area + 1 so that zero-area pieces still get a position
    seg_center = np.stack([np.bincount(labels, weights=(areas + 1) * centers[:, d], minlength=k) for d in range(3)], 1)
    seg_center /= (np.bincount(labels, weights=areas + 1, minlength=k))[:, None]
    first = np.full(k, -1)
    first[labels[::-1]] = np.arange(len(labels))[::-1]
    paths = [tuple(mesh.artist_parts[mesh.face_artist_part[f]].node_path.split("/")) for f in first]
    return seg_area, seg_center, paths


def merge_smallest(mesh: Mesh, labels: np.ndarray, pairs: np.ndarray, max_parts: int, dust: bool = True) -> np.ndarray:
    """Merge segments smallest-first into a neighbour until at most `max_parts` remain (with
    `dust=False`, a segment that touches none is never merged: it stays, and fewer merges may be
    possible than asked for).
    Loops over segments (not faces): the smallest comes off a heap (lowest id among equal
    areas); a segment that touches none looks only at the segments under its deepest node-path
    prefix that holds another (`artist_index.PathIndex`), through a k-d tree of their centres
    when there are many. Measured: 20,000 dust triangles of one artist part reduced to 10
    segments in 1.9 s (4,000: 0.6 s), against 70 s (2.9 s) with the scan over every segment and a
    Python comparison of node paths it replaced, which gives the same merges. Returns (F,)
    labels renumbered by first face."""
    k = int(labels.max()) + 1
    area, center, paths = _segment_tables(mesh, labels, k)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    cross = a != b
    neighbours: list[Counter] = [Counter() for _ in range(k)]
    for (x, y), n in Counter(zip(a[cross].tolist(), b[cross].tolist())).items():
        neighbours[x][y] += n
        neighbours[y][x] += n
    index = PathIndex(paths, center)
    parent = np.arange(k)
    active = np.ones(k, bool)
    queue = list(zip(area.tolist(), range(k)))
    heapq.heapify(queue)
    left = k
    while left > max_parts and queue:
        size, s = heapq.heappop(queue)
        if not active[s] or size != area[s]:  # an entry left behind by a segment that grew, or was merged away
            continue
        if neighbours[s]:  # the neighbour sharing the most edges (lowest id on ties)
            target = max(neighbours[s].items(), key=lambda kv: (kv[1], -kv[0]))[0]
        elif dust:
            target = index.nearest(s)
        else:  # it keeps its place: a segment that touches none never comes to touch one
            continue
        left -= 1
        _merge(s, target, parent, active, area, center, neighbours)
        index.merged(s, target, center[target])
        heapq.heappush(queue, (float(area[target]), target))
    root = parent.copy()
    while not np.array_equal(root, root[root]):
        root = root[root]
    return relabel_by_first_occurrence(root[labels])


def _merge(s: int, t: int, parent, active, area, center, neighbours: list[Counter]) -> None:
    total = area[s] + area[t]
    if total > 0:
        center[t] = (center[s] * area[s] + center[t] * area[t]) / total
    area[t] = total
    parent[s], active[s] = t, False
    for n, count in neighbours[s].items():
        neighbours[n].pop(s, None)
        if n != t:
            neighbours[n][t] += count
            neighbours[t][n] += count
    neighbours[t].pop(s, None)
    neighbours[s] = Counter()
