"""Greedy agglomerative merging of mesh regions into a merge hierarchy, and cutting it.

Regions start as superfaces (small patches, see `geometric.superfaces`). The adjacent pair with the
highest normalized association  w(A, B) * (1/area(A) + 1/area(B)) * w(A, B) / L(A, B)  merges first,
where w sums the link affinities on their shared border (low across concave creases) and L is the
border's length, so w / L in [0, 1] is the border's mean smoothness: small pieces and pieces joined
by smooth surface merge early, parts separated by creases late (a greedy normalized-cut criterion;
the smoothness factor keeps a long but creased border from outweighing a short smooth one).
Each merge's association is recorded, so a granularity threshold or a target count picks a level;
every level refines the next, so more segments always means a refinement. The loop runs over
regions (hundreds to a few thousand), never over faces.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from partverse.geometry.adjacency import relabel_by_first_occurrence, union_find


@dataclass(slots=True, eq=False)
class MergeHierarchy:
    """merges: (M, 2) int64 pairs of region ids merged in order (each row joins the two regions'
    current clusters); affinity: (M,) normalized association of each merge (dimensionless,
    higher = weaker border); region_of_face: (F,) int64 region id 0..R-1."""

    merges: np.ndarray
    affinity: np.ndarray
    region_of_face: np.ndarray
    num_regions: int

    def labels_after(self, num_merges: int) -> np.ndarray:
        """(F,) int64 labels 0..K-1 (numbered by first face) after the first `num_merges` merges."""
        m = self.merges[: max(0, int(num_merges))]
        region_label = union_find(self.num_regions, m[:, 0], m[:, 1])  # merges form a forest
        return relabel_by_first_occurrence(region_label[self.region_of_face])

    def labels_for_count(self, num_parts: int) -> np.ndarray:
        """Labels with `num_parts` segments, or the fewest this hierarchy reaches (one per
        connected piece that no allowed link joins)."""
        return self.labels_after(self.num_regions - int(num_parts))

    def labels_for_threshold(self, min_affinity: float) -> np.ndarray:
        """Labels after merging in order until the first merge whose association is below
        `min_affinity` (higher threshold -> fewer merges -> more segments: monotone)."""
        running = np.minimum.accumulate(self.affinity) if len(self.affinity) else self.affinity
        return self.labels_after(int(np.count_nonzero(running >= min_affinity)))


def build_hierarchy(
    region: np.ndarray, pairs: np.ndarray, weight: np.ndarray, areas: np.ndarray, blocked: np.ndarray | None = None,
    face_value: np.ndarray | None = None, value_scale: float = 1.0, length: np.ndarray | None = None,
) -> MergeHierarchy:
    """Merge regions greedily by normalized association.

    region: (F,) int region id 0..R-1 per face; pairs: (E, 2) adjacent faces; weight: (E,) link
    affinity >= 0 (low across creases); areas: (F,) face areas; blocked: (E,) bool links that
    never join regions (e.g. artist-part borders); face_value: (F,) optional per-face quantity
    (e.g. log shape diameter): two regions whose area-weighted means differ by d have their
    association scaled by exp(-d / value_scale), so regions of different thickness merge late;
    length: (E,) link lengths >= weight (the border's smoothness is weight / length; None = the
    weights themselves, i.e. no smoothness factor).
    """
    region = np.asarray(region, dtype=np.int64)
    n = int(region.max()) + 1
    length = weight if length is None else length
    if blocked is not None:
        pairs, weight, length = pairs[~blocked], weight[~blocked], length[~blocked]
    ra, rb = region[pairs[:, 0]], region[pairs[:, 1]]
    cross = ra != rb
    # one sparse table of complex numbers sums both border weights (real) and lengths (imag)
    lo, hi = np.minimum(ra, rb)[cross], np.maximum(ra, rb)[cross]
    table = sp.coo_matrix((weight[cross] + 1j * length[cross], (lo, hi)), shape=(n, n)).tocsr().tocoo()
    area = np.bincount(region, weights=areas, minlength=n).astype(np.float64)
    area = np.maximum(area, max(area.max(), 1e-300) * 1e-9)  # zero-area regions still merge first
    neighbours: list[dict[int, list[float]]] = [dict() for _ in range(n)]
    for a, b, w, L in zip(table.row.tolist(), table.col.tolist(), table.data.real.tolist(), table.data.imag.tolist()):
        neighbours[a][b] = neighbours[b][a] = [w, L]
    value = None
    if face_value is not None:
        value = np.bincount(region, weights=areas * face_value, minlength=n) / area / value_scale
    return _greedy_merge(neighbours, area, region, n, value)


def _affinity(a: int, b: int, entry: list, area: list, scale: float, value: list | None) -> float:
    """Normalized association of two regions: shared link weight over each region's area,
    made scale-free by sqrt(total area), times the border's mean smoothness (weight / length),
    damped by their difference in `value`. High = weakly separated, merge early."""
    w, length = entry
    base = w * (1.0 / area[a] + 1.0 / area[b]) * scale * (w / length if length > 0 else 1.0)
    return base if value is None else base * math.exp(-abs(value[a] - value[b]))


def _greedy_merge(neighbours, area, region, n, value=None) -> MergeHierarchy:
    scale = float(np.sqrt(area.sum()))
    value = None if value is None else value.tolist()
    area = area.tolist()  # python floats: faster than numpy scalars in this loop
    # heap entries carry both clusters' versions at push time; a merge bumps the versions of the
    # clusters it changes, so an entry is current iff both versions still match (no recomputation)
    heap = [(-_affinity(a, b, e, area, scale, value), a, b, 0, 0) for a in range(n) for b, e in neighbours[a].items() if a < b]
    heapq.heapify(heap)
    version = [0] * n
    merges, affinity = [], []
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        negative, a, b, va, vb = pop(heap)
        if version[a] != va or version[b] != vb:
            continue  # stale entry: one of the two clusters changed since it was pushed
        merges.append((a, b))  # the surviving cluster keeps id a
        affinity.append(-negative)
        _absorb(a, b, neighbours, area, value)
        version[a] += 1
        version[b] += 1  # b is gone: its entries are all stale now
        va = version[a]
        for c, e in neighbours[a].items():
            key = -_affinity(a, c, e, area, scale, value)
            push(heap, (key, a, c, va, version[c]) if a < c else (key, c, a, version[c], va))
    merges_arr = np.array(merges, dtype=np.int64).reshape(-1, 2)
    return MergeHierarchy(merges_arr, np.array(affinity, dtype=np.float64), region, n)


def _absorb(a: int, b: int, neighbours, area, value=None) -> None:
    """Cluster b joins cluster a (in place)."""
    if value is not None:  # area-weighted mean of the two
        value[a] = (value[a] * area[a] + value[b] * area[b]) / (area[a] + area[b])
    neighbours[a].pop(b)
    neighbours[b].pop(a)
    for c, w in neighbours[b].items():
        entry = neighbours[a].setdefault(c, [0.0, 0.0])
        entry[0] += w[0]
        entry[1] += w[1]
        neighbours[c].pop(b)
        neighbours[c][a] = entry
    neighbours[b] = {}
    area[a] += area[b]
