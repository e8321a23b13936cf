"""Where a dust piece goes in `artist.merge_smallest`: the active segments sorted by node path, so
that those under any prefix of a path are one contiguous run, and the nearest centre in a run
found by one vectorized pass or, in a long run, through a k-d tree of the centres (scipy).
"""
from __future__ import annotations

import numpy as np

# a run with at least this many active segments is searched through a k-d tree of their centres
# (rebuilt once more than TREE_MOVED + sqrt(entries) centres have moved since, or half its
# entries are gone); below it one vectorized pass is faster (measured: even at about 4,000)
TREE_MIN_RUN = 4096
TREE_MOVED = 64


class PathIndex:
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
        self.trees: dict[tuple[int, int], RunTree] = {}

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

    def _tree(self, lo: int, hi: int) -> "RunTree":
        tree = self.trees.get((lo, hi))
        if tree is None or tree.stale():
            tree = self.trees[(lo, hi)] = RunTree(self, lo, hi)
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


class RunTree:
    """A k-d tree over one run's active centres as of its build. Segments that have grown since
    (moved centres) are searched directly at their current centre; removed ones are skipped."""

    def __init__(self, index: PathIndex, lo: int, hi: int):
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

    def candidates(self, index: PathIndex, j: int) -> np.ndarray:
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
