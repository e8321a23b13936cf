"""Compiled loops (numba) over graphs: the face pairs of runs of equal edges, union-find, labels
renumbered by first occurrence, and the symmetric CSR table of a list of links.

Compiled on first use and cached on disk (numba's `cache=True`); `kernels()` imports numba only
when called.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace


@functools.cache
def kernels() -> SimpleNamespace:
    """The compiled kernels `run_pairs`, `union_find`, `first_occurrence` and `symmetric_csr`
    (see their docstrings)."""
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

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def union_find(n, a, b):
        """(n,) int64: every node's label is the smallest node of its component (edges a[i]-b[i]).
        Roots hook onto the smaller root, with path halving; then one pass points every node at
        its root (nodes in increasing order: a node's parent is never larger than the node)."""
        parent = np.arange(n)
        for i in range(len(a)):
            x, y = a[i], b[i]
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            while parent[y] != y:
                parent[y] = parent[parent[y]]
                y = parent[y]
            if x < y:
                parent[y] = x
            elif y < x:
                parent[x] = y
        for v in range(n):
            parent[v] = parent[parent[v]]
        return parent

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def first_occurrence(labels, low, high):
        """(n,) int64 labels 0..K-1 in the order each value of `labels` (ints in [low, high])
        first appears."""
        rank = np.full(high - low + 1, -1, np.int64)
        out = np.empty(len(labels), np.int64)
        k = 0
        for i in range(len(labels)):
            j = labels[i] - low
            if rank[j] < 0:
                rank[j] = k
                k += 1
            out[i] = rank[j]
        return out

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def symmetric_csr(n, p, q, value):
        """The CSR arrays (indptr, indices, data) of the n x n matrix with value[e] at both (p[e],
        q[e]) and (q[e], p[e]): columns ascending within a row, repeated entries summed in link
        order (scipy's canonical form of the same COO entries)."""
        m = len(p)
        count = np.zeros(n + 1, np.int64)
        for e in range(m):
            count[p[e] + 1] += 1
            count[q[e] + 1] += 1
        for r in range(n):
            count[r + 1] += count[r]
        fill = count[:-1].copy()
        col = np.empty(2 * m, np.int64)
        val = np.empty(2 * m, value.dtype)
        for half in range(2):  # all (p, q) entries first, then all (q, p): the COO order
            for e in range(m):
                r, c = (p[e], q[e]) if half == 0 else (q[e], p[e])
                col[fill[r]] = c
                val[fill[r]] = value[e]
                fill[r] += 1
        indptr = np.empty(n + 1, np.int64)
        indptr[0] = 0
        at = 0
        for r in range(n):
            start, stop = count[r], count[r + 1]
            for i in range(start + 1, stop):  # stable insertion sort: rows hold a few entries
                c, v = col[i], val[i]
                j = i - 1
                while j >= start and col[j] > c:
                    col[j + 1], val[j + 1] = col[j], val[j]
                    j -= 1
                col[j + 1], val[j + 1] = c, v
            i = start
            while i < stop:
                c, v = col[i], val[i]
                i += 1
                while i < stop and col[i] == c:
                    v += val[i]
                    i += 1
                col[at], val[at] = c, v
                at += 1
            indptr[r + 1] = at
        return indptr, col[:at].copy(), val[:at].copy()

    return SimpleNamespace(run_pairs=run_pairs, union_find=union_find, first_occurrence=first_occurrence,
                           symmetric_csr=symmetric_csr)
