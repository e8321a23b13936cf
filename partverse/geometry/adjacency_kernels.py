"""Compiled loops (numba) for face adjacency: the face pairs of runs of equal edges.

Compiled on first use and cached on disk (numba's `cache=True`); `kernels()` imports numba only
when called.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace


@functools.cache
def kernels() -> SimpleNamespace:
    """The compiled kernel `run_pairs` (see its docstring)."""
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def run_pairs(starts, lengths, by_length, owner):
        """Every pair (i < j) of faces within each run of equal edges: owner[s + i], owner[s + j]
        for the run starting at s, and s. Emitted run length by run length (ascending), then by
        (i, j), then run by run in `by_length` order (a stable argsort of `lengths`): the order of
        the numpy loop this replaced. Runs of length 1 emit nothing."""
        total = 0
        for r in range(len(lengths)):
            total += lengths[r] * (lengths[r] - 1) // 2
        a, b, run = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.int64)
        at, first = 0, 0
        while first < len(by_length):
            k = lengths[by_length[first]]
            last = first
            while last < len(by_length) and lengths[by_length[last]] == k:
                last += 1
            for i in range(k):
                for j in range(i + 1, k):
                    for r in range(first, last):
                        s = starts[by_length[r]]
                        a[at], b[at], run[at] = owner[s + i], owner[s + j], s
                        at += 1
            first = last
        return a, b, run

    return SimpleNamespace(run_pairs=run_pairs)
