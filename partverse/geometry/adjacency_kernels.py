"""Compiled loops (numba) over graphs: the face pairs that share an edge, union-find, labels
renumbered by first occurrence, and the symmetric CSR table of a list of links.

Compiled on first use and cached on disk (numba's `cache=True`). The functions live at module level
(not in a closure) because `face_pairs` calls `edge_order`: numba hashes a closure's cells into its
cache key, and a compiled function in a cell pickles differently in every process, so a kernel calling
another from a closure is compiled anew in each one. This module imports numba; `adjacency` imports it
only when a kernel is first needed.
"""
from __future__ import annotations

import numba
import numpy as np


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


@numba.njit(cache=True, nogil=True, boundscheck=False)
def edge_order(edges, num_vertices):
    """The stable sort of (N, 2) int64 edges by (first, second) vertex, as (N,) int64 indices:
    a counting sort by the first vertex, then a stable sort by the second within each first
    vertex's edges (insertion sort for the usual few, merge sort past 32), so linear time on
    meshes; equal edges keep their order."""
    n = edges.shape[0]
    start = np.zeros(num_vertices + 1, np.int64)
    for i in range(n):
        start[edges[i, 0] + 1] += 1
    for v in range(num_vertices):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        v = edges[i, 0]
        order[fill[v]] = i
        fill[v] += 1
    for v in range(num_vertices):
        if start[v + 1] - start[v] > 32:  # a vertex of high degree (a fan's centre): merge sort
            run = order[start[v]:start[v + 1]].copy()
            order[start[v]:start[v + 1]] = run[np.argsort(edges[run, 1], kind="mergesort")]
            continue
        for i in range(start[v] + 1, start[v + 1]):
            k = order[i]
            key = edges[k, 1]
            j = i - 1
            while j >= start[v] and edges[order[j], 1] > key:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = k
    return order


@numba.njit(cache=True, nogil=True, boundscheck=False)
def face_pairs(faces, num_vertices):
    """Pairs of (F, 3) faces sharing an edge: (E,) int64 faces a, b and the (E, 2) shared
    vertex pair (low, high). Every pair (i < j) of the faces on each run of equal edges (edges
    in `edge_order`), emitted run length by run length (ascending), then by (i, j), then run by
    run; a face listed twice on one edge is not paired with itself."""
    n = 3 * faces.shape[0]
    edges = np.empty((n, 2), np.int64)
    for f in range(faces.shape[0]):
        for k in range(3):
            u, v = faces[f, k], faces[f, (k + 1) % 3]
            edges[3 * f + k, 0], edges[3 * f + k, 1] = min(u, v), max(u, v)
    order = edge_order(edges, num_vertices)
    run_start = np.empty(n, np.int64)
    run_length = np.empty(n, np.int64)
    runs, longest, total, i = 0, 0, 0, 0
    while i < n:
        j = i + 1
        while j < n and edges[order[j], 0] == edges[order[i], 0] and edges[order[j], 1] == edges[order[i], 1]:
            j += 1
        if j - i > 1:
            run_start[runs], run_length[runs] = i, j - i
            runs += 1
            longest = max(longest, j - i)
            total += (j - i) * (j - i - 1) // 2
        i = j
    # runs bucketed by length, in run order within a length (a counting sort)
    first = np.zeros(longest + 2, np.int64)
    for r in range(runs):
        first[run_length[r] + 1] += 1
    for k in range(longest + 1):
        first[k + 1] += first[k]
    fill = first[:-1].copy()
    by_length = np.empty(runs, np.int64)
    for r in range(runs):
        by_length[fill[run_length[r]]] = r
        fill[run_length[r]] += 1
    a, b = np.empty(total, np.int64), np.empty(total, np.int64)
    shared = np.empty((total, 2), np.int64)
    at = 0
    for k in range(2, longest + 1):
        for i in range(k):
            for j in range(i + 1, k):
                for r in by_length[first[k]:first[k + 1]]:
                    s = run_start[r]
                    p, q = order[s + i] // 3, order[s + j] // 3
                    if p != q:
                        a[at], b[at] = p, q
                        shared[at, 0], shared[at, 1] = edges[order[s], 0], edges[order[s], 1]
                        at += 1
    return a[:at], b[:at], shared[:at]
