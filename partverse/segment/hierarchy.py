"""Greedy agglomerative merging of mesh regions into a merge hierarchy, and cutting it.

Regions start as superfaces (small patches, see `geometric.superfaces`). The pair whose merge
lowers the normalized cut  sum_i cut(R_i) / area(R_i)  the most is merged first (Shi & Malik's
criterion, used greedily as in the Princeton benchmark's "normalized cuts" baseline); the cost of a
merge is recorded so a granularity threshold or a target count picks a level. The loop runs over
regions (hundreds to a few thousand), never over faces.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from partverse.geometry.adjacency import relabel_by_first_occurrence


@dataclass(slots=True, eq=False)
class MergeHierarchy:
    """merges: (M, 2) int64 pairs of original region ids merged in order (each row joins the two
    regions' current clusters); cost: (M,) merge cost in [0, inf), non-decreasing after
    `np.maximum.accumulate` (higher = stronger boundary); region_of_face: (F,) region id."""

    merges: np.ndarray
    cost: np.ndarray
    region_of_face: np.ndarray
    num_regions: int

    def labels_after(self, num_merges: int) -> np.ndarray:
        """(F,) labels 0..K-1 after the first `num_merges` merges."""
        m = self.merges[: max(0, int(num_merges))]
        n = self.num_regions
        graph = sp.coo_matrix((np.ones(len(m), np.int8), (m[:, 0], m[:, 1])), shape=(n, n))
        _, region_label = connected_components(graph, directed=False)
        return relabel_by_first_occurrence(region_label[self.region_of_face])

    def labels_for_count(self, num_parts: int) -> np.ndarray:
        """Labels with `num_parts` segments, or the fewest the hierarchy reaches."""
        return self.labels_after(self.num_regions - int(num_parts))

    def labels_for_threshold(self, threshold: float) -> np.ndarray:
        """Labels after every merge whose (running-max) cost is <= threshold."""
        running = np.maximum.accumulate(self.cost) if len(self.cost) else self.cost
        return self.labels_after(int(np.searchsorted(running, threshold, side="right")))


def _region_tables(region: np.ndarray, pairs: np.ndarray, weight: np.ndarray, length: np.ndarray):
    """Sum link weight / length between regions: (R, R) sparse symmetric tables without diagonal."""
    n = int(region.max()) + 1
    ra, rb = region[pairs[:, 0]], region[pairs[:, 1]]
    keep = ra != rb
    rows = np.concatenate([ra[keep], rb[keep]])
    cols = np.concatenate([rb[keep], ra[keep]])
    w = sp.coo_matrix((np.concatenate([weight[keep]] * 2), (rows, cols)), shape=(n, n)).tocsr()
    ln = sp.coo_matrix((np.concatenate([length[keep]] * 2), (rows, cols)), shape=(n, n)).tocsr()
    return w, ln


def build_hierarchy(
    region: np.ndarray,
    pairs: np.ndarray,
    weight: np.ndarray,
    length: np.ndarray,
    areas: np.ndarray,
    blocked: np.ndarray | None = None,
) -> MergeHierarchy:
    """Merge regions greedily by normalized-cut gain.

    region: (F,) int region id 0..R-1 per face; pairs: (E, 2) adjacent faces; weight: (E,) link
    affinity (low across creases); length: (E,) shared edge length; areas: (F,) face areas;
    blocked: (E,) bool, links that must never be merged across (e.g. artist-part borders).
    The recorded cost of a merge is the mean boundary strength 1 - weight/length of the shared
    border (0 = smooth surface, 1 = sharp concave crease), which is what granularity thresholds.
    """
    region = np.asarray(region, dtype=np.int64)
    n = int(region.max()) + 1
    if blocked is not None and blocked.any():
        keep = ~blocked
        pairs, weight, length = pairs[keep], weight[keep], length[keep]
    w_table, len_table = _region_tables(region, pairs, weight, length)
    area = np.bincount(region, weights=areas, minlength=n).astype(np.float64)
    area = np.maximum(area, area.max() * 1e-12 + 1e-300)
    cut = np.asarray(w_table.sum(axis=1)).ravel()
    neighbours: list[dict[int, list[float]]] = [dict() for _ in range(n)]
    coo = sp.triu(w_table, k=1).tocoo()
    lens = np.asarray(len_table[coo.row, coo.col]).ravel()
    for a, b, w, ln in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), lens.tolist()):
        neighbours[a][b] = neighbours[b][a] = [w, ln]
    return _greedy_merge(neighbours, cut, area, region, n)


SIZE_EXPONENT = 0.5


MODE = "strength"


def _cost(a: int, b: int, entry: list, area: np.ndarray, total: float, cut) -> float:
    """Mean crease strength of the shared border, discounted for small regions."""
    if MODE == "ncut":
        merged = (cut[a] + cut[b] - 2.0 * entry[0]) / (area[a] + area[b])
        return (merged - cut[a] / area[a] - cut[b] / area[b]) * np.sqrt(total)
    if MODE == "ncut2":
        return -entry[0] * (1.0 / area[a] + 1.0 / area[b]) * np.sqrt(total)
    strength = 1.0 - entry[0] / entry[1] if entry[1] > 0 else 0.0
    return strength * (min(area[a], area[b]) / total) ** SIZE_EXPONENT


def _greedy_merge(neighbours, cut, area, region, n) -> MergeHierarchy:
    total = float(area.sum())
    heap = [(_cost(a, b, e, area, total, cut), a, b) for a in range(n) for b, e in neighbours[a].items() if a < b]
    heapq.heapify(heap)
    alive = np.ones(n, dtype=bool)
    merges, costs = [], []
    while heap:
        cost, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or b not in neighbours[a]:
            continue
        entry = neighbours[a][b]
        if cost != _cost(a, b, entry, area, total, cut):
            continue  # stale entry: the pair changed since it was pushed
        merges.append((a, b))  # the surviving cluster keeps id a
        costs.append(cost)
        _absorb(a, b, neighbours, cut, area, alive)
        for c, e in neighbours[a].items():
            heapq.heappush(heap, (_cost(a, c, e, area, total, cut), min(a, c), max(a, c)))
    merges_arr = np.array(merges, dtype=np.int64).reshape(-1, 2)
    return MergeHierarchy(merges_arr, np.array(costs, dtype=np.float64), region, n)


def _absorb(a: int, b: int, neighbours, cut, area, alive) -> None:
    """Cluster b joins cluster a (in place)."""
    w_ab = neighbours[a].pop(b)[0]
    neighbours[b].pop(a)
    for c, (w, ln) in neighbours[b].items():
        entry = neighbours[a].setdefault(c, [0.0, 0.0])
        entry[0] += w
        entry[1] += ln
        neighbours[c].pop(b)
        neighbours[c][a] = entry
    neighbours[b] = {}
    cut[a] = cut[a] + cut[b] - 2.0 * w_ab
    area[a] += area[b]
    alive[b] = False
