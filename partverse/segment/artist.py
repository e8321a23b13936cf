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
from partverse.geometry.sampling import face_areas_normals
from partverse.records import Mesh


def artist_segmentation(mesh: Mesh, max_parts: int | None = None) -> np.ndarray:
    """(F,) int32 labels 0..K-1 (numbered by first face): connected pieces of each artist part,
    merged bottom-up to at most `max_parts` segments when it is given."""
    if max_parts is not None and (not isinstance(max_parts, int) or max_parts < 1):
        raise ValueError(f"max_parts = {max_parts!r}: must be a positive integer or None")
    welded = weld_vertices_radius(mesh.vertices, mesh.faces)
    labels = edge_connected_components(welded, mesh.face_artist_part)
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


def merge_smallest(mesh: Mesh, labels: np.ndarray, pairs: np.ndarray, max_parts: int) -> np.ndarray:
    """Merge segments smallest-first into a neighbour until at most `max_parts` remain.
    Loops over segments (not faces): the smallest comes off a heap (lowest id among equal
    areas); a segment that touches none looks only at the segments under its deepest node-path
    prefix that holds another (`_PathIndex`), through a k-d tree of their centres when there are
    many. Measured: 20,000 dust triangles of one artist part reduced to 10 segments in 1.9 s
    (4,000: 0.6 s), against 70 s (2.9 s) with the scan over every segment and a Python comparison
    of node paths it replaced, which gives the same merges. Returns (F,) labels renumbered by
    first face."""
    k = int(labels.max()) + 1
    area, center, paths = _segment_tables(mesh, labels, k)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    cross = a != b
    neighbours: list[Counter] = [Counter() for _ in range(k)]
    for (x, y), n in Counter(zip(a[cross].tolist(), b[cross].tolist())).items():
        neighbours[x][y] += n
        neighbours[y][x] += n
    index = _PathIndex(paths, center)
    parent = np.arange(k)
    active = np.ones(k, bool)
    queue = list(zip(area.tolist(), range(k)))
    heapq.heapify(queue)
    for _ in range(k - max_parts):
        while True:  # entries left behind by a segment that grew, or was merged away
            size, s = heapq.heappop(queue)
            if active[s] and size == area[s]:
                break
        if neighbours[s]:  # the neighbour sharing the most edges (lowest id on ties)
            target = max(neighbours[s].items(), key=lambda kv: (kv[1], -kv[0]))[0]
        else:
            target = index.nearest(s)
        _merge(s, target, parent, active, area, center, neighbours)
        index.merged(s, target, center[target])
        heapq.heappush(queue, (float(area[target]), target))
    root = parent.copy()
    while not np.array_equal(root, root[root]):
        root = root[root]
    return relabel_by_first_occurrence(root[labels])


# a run with at least this many active segments is searched through a k-d tree of their centres
# (rebuilt once more than TREE_MOVED + sqrt(entries) centres have moved since, or half its
# entries are gone); below it one vectorized pass is faster (measured: even at about 4,000)
TREE_MIN_RUN = 4096
TREE_MOVED = 64


class _PathIndex:
    """Active segments sorted by node path, so that the segments under any prefix of a path are
    one contiguous run. `nearest(s)`: of the other active segments, those with the longest node
    path in common with s (the run of s's deepest prefix holding another), then the nearest
    centre, then the lowest id."""

    def __init__(self, paths: list[tuple[str, ...]], center: np.ndarray):
        k = len(paths)
        self.order = np.array(sorted(range(k), key=lambda i: paths[i]), dtype=np.int64)
        self.position = np.empty(k, np.int64)
        self.position[self.order] = np.arange(k)
        self.center = center[self.order].copy()
        self.active = np.ones(k, bool)
        self.depth = np.array([len(p) for p in paths], dtype=np.int64)
        # run[d][j]: first and end position of the run of sorted segment j's depth-d prefix
        self.runs = []
        ordered = [paths[i] for i in self.order]
        for d in range(int(self.depth.max(initial=0)) + 1):
            key = [p[:d] for p in ordered]
            new = np.array([j == 0 or key[j] != key[j - 1] for j in range(k)], dtype=bool)
            starts = np.flatnonzero(new)
            run = np.cumsum(new) - 1
            ends = np.r_[starts[1:], k]
            self.runs.append((starts[run], ends[run]))
        self.trees: dict[tuple[int, int], _RunTree] = {}

    def nearest(self, s: int) -> int:
        j = int(self.position[s])
        for d in range(int(self.depth[s]), -1, -1):
            lo, hi = int(self.runs[d][0][j]), int(self.runs[d][1][j])
            live = self.active[lo:hi].copy()
            live[j - lo] = False
            if live.any():
                break
        if np.count_nonzero(live) >= TREE_MIN_RUN:
            positions = self._tree(lo, hi).candidates(self, j)
        else:
            positions = np.flatnonzero(live) + lo
        dist = np.linalg.norm(self.center[positions] - self.center[j], axis=1)
        return int(self.order[positions[dist == dist.min()]].min())

    def _tree(self, lo: int, hi: int) -> "_RunTree":
        tree = self.trees.get((lo, hi))
        if tree is None or tree.stale():
            tree = self.trees[(lo, hi)] = _RunTree(self, lo, hi)
        return tree

    def merged(self, s: int, t: int, center_t: np.ndarray) -> None:
        ps, pt = int(self.position[s]), int(self.position[t])
        self.active[ps] = False
        self.center[pt] = center_t
        if self.trees:
            for position, moved in ((ps, False), (pt, True)):
                for d in range(int(self.depth[self.order[position]]) + 1):
                    tree = self.trees.get((int(self.runs[d][0][position]), int(self.runs[d][1][position])))
                    if tree is not None:
                        tree.changed(position, moved)


class _RunTree:
    """A k-d tree over one run's active centres as of its build. Segments that have grown since
    (moved centres) are searched directly at their current centre; removed ones are skipped."""

    def __init__(self, index: _PathIndex, lo: int, hi: int):
        from scipy.spatial import cKDTree

        self.lo = lo
        self.positions = np.flatnonzero(index.active[lo:hi]) + lo
        self.tree = cKDTree(index.center[self.positions])
        self.moved: set[int] = set()
        self.is_moved = np.zeros(hi - lo, bool)  # by position - lo
        self.gone = 0  # entries removed or moved since the build

    def stale(self) -> bool:
        n = len(self.positions)
        return len(self.moved) > TREE_MOVED + np.sqrt(n) or self.gone > n // 2

    def changed(self, position: int, moved: bool) -> None:
        self.gone += position not in self.moved
        self.is_moved[position - self.lo] = moved
        if moved:
            self.moved.add(position)
        else:
            self.moved.discard(position)

    def candidates(self, index: _PathIndex, j: int) -> np.ndarray:
        """Positions of every active segment other than j that may be nearest to j's centre:
        the moved ones, and the tree's entries within the exact distance of the nearest found
        (with a relative margin, so that the caller's exact distances settle ties)."""
        centre = index.center[j]
        moved = np.fromiter(self.moved, np.int64, len(self.moved))
        moved = moved[index.active[moved] & (moved != j)]
        best = np.inf
        if len(moved):
            best = float(np.linalg.norm(index.center[moved] - centre, axis=1).min())
        n, k = len(self.positions), 8
        while True:  # the nearest valid entry: active, not moved, not j
            _, found = self.tree.query(centre, k=min(k, n))
            found = self.positions[np.atleast_1d(found)]
            valid = found[index.active[found] & (found != j) & ~self.is_moved[found - self.lo]]
            if len(valid) or k >= n:
                break
            k *= 4
        if len(valid):
            best = min(best, float(np.linalg.norm(index.center[valid[0]] - centre)))
        near = self.positions[self.tree.query_ball_point(centre, best * (1 + 1e-9) + 1e-300)]
        keep = index.active[near] & (near != j) & ~self.is_moved[near - self.lo]
        return np.concatenate([near[keep], moved])


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
