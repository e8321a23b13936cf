"""The greedy merge loop of `hierarchy` as a compiled loop (numba), over plain arrays.

It replaced a Python loop over one dict of neighbours per region and a `heapq` of tuples
(-affinity, a, b, va, vb), and gives the same merges and the same affinity bits (that loop is kept
in tests/test_segment_hierarchy.py as the reference). Each region's neighbours are a doubly linked
list of link nodes in the order the dict held them (insertion order; a key assigned again keeps its
place). Nodes come in twins, 2k in one region's list and 2k + 1 in the other's, sharing link k's
summed weight and length, so a merge moves or drops nodes and never allocates. The queue is a
binary heap run by the very steps of CPython's `heapq` (heapify, siftdown, siftup) and ordered as
it orders those tuples, so entries pop in the same order even with ties or NaN affinities. The
arithmetic is the loop's, in its order (no fast-math, `math.exp`).

Compiled on first use and cached on disk (numba's `cache=True`). Unlike the other kernel modules,
the functions live at module level, not inside a `kernels()` closure: numba hashes a closure's
cells into the cache key, and a dispatcher in a cell pickles differently in every process, so
`greedy_merge` calling its helpers from a closure was compiled anew in each process (10 s).
So this module imports numba at its top, and `hierarchy` imports it only when it builds one.
"""
from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)
_inline = numba.njit(inline="always")  # helpers: inlined into the caller, no call in the hot loop


@_inline
def _before(key_i, i, key_j, j, lo, hi, vlo, vhi):
    """Entry (key_i, pool slot i) sorts before (key_j, j) as Python compares the tuples
    (key, lo, hi, vlo, vhi): a NaN key is unequal to every key, and then not less."""
    if key_i != key_j:
        return key_i < key_j
    if lo[i] != lo[j]:
        return lo[i] < lo[j]
    if hi[i] != hi[j]:
        return hi[i] < hi[j]
    if vlo[i] != vlo[j]:
        return vlo[i] < vlo[j]
    return vhi[i] < vhi[j]


@_inline
def _sift_down(key, heap, start, pos, lo, hi, vlo, vhi):
    """heapq._siftdown: move entry pos toward the root until its parent is not greater."""
    item_key, item = key[pos], heap[pos]
    while pos > start:
        parent = (pos - 1) >> 1
        if not _before(item_key, item, key[parent], heap[parent], lo, hi, vlo, vhi):
            break
        key[pos], heap[pos] = key[parent], heap[parent]
        pos = parent
    key[pos], heap[pos] = item_key, item


@_inline
def _sift_up(key, heap, size, pos, lo, hi, vlo, vhi):
    """heapq._siftup: move the smaller child up to a leaf, then sift the entry down there."""
    start, item_key, item = pos, key[pos], heap[pos]
    child = 2 * pos + 1
    while child < size:
        right = child + 1
        if right < size and not _before(key[child], heap[child], key[right], heap[right], lo, hi, vlo, vhi):
            child = right
        key[pos], heap[pos] = key[child], heap[child]
        pos = child
        child = 2 * pos + 1
    key[pos], heap[pos] = item_key, item
    _sift_down(key, heap, start, pos, lo, hi, vlo, vhi)


@_inline
def _affinity(a, c, w, length, area, scale, value, has_value):
    """Normalized association of regions a and c: their border's weight w over each region's
    area, made scale-free by sqrt(total area), times the border's mean smoothness w / length,
    damped by their difference in `value`. High = weakly separated, merge early."""
    base = w * (1.0 / area[a] + 1.0 / area[c]) * scale * (w / length if length > 0 else 1.0)
    return base * math.exp(-abs(value[a] - value[c])) if has_value else base


@_inline
def _unlink(node, owner, head, tail, nxt, prv):
    """Take `node` out of region owner's list."""
    p, q = prv[node], nxt[node]
    if p >= 0:
        nxt[p] = q
    else:
        head[owner] = q
    if q >= 0:
        prv[q] = p
    else:
        tail[owner] = p


@_inline
def _append(node, owner, head, tail, nxt, prv):
    """Put `node` at the end of region owner's list."""
    p = tail[owner]
    prv[node], nxt[node] = p, -1
    if p >= 0:
        nxt[p] = node
    else:
        head[owner] = node
    tail[owner] = node


@_inline
def _grow(array, size):
    """array copied into the start of a new one of `size` entries."""
    out = np.empty(size, array.dtype)
    out[: array.shape[0]] = array
    return out


@_inline
def _absorb(a, b, m, head, tail, target, nxt, prv, stamp, slot, weight, length):
    """Region b's borders join a's (merge m): a border both had sums b's into a's entry in
    place; a border only b had moves to the end of a's order and, as a, of the neighbour's.
    b's list ends empty."""
    node = head[a]
    while node >= 0:  # where each of a's neighbours sits in a's list
        stamp[target[node]], slot[target[node]] = m, node
        node = nxt[node]
    _unlink(slot[b], a, head, tail, nxt, prv)
    _unlink(slot[b] ^ 1, b, head, tail, nxt, prv)
    node = head[b]
    while node >= 0:
        following = nxt[node]
        c, twin, k = target[node], node ^ 1, node >> 1
        _unlink(twin, c, head, tail, nxt, prv)  # neighbours[c].pop(b)
        if stamp[c] == m:  # entry = neighbours[a][c], in place
            shared = slot[c] >> 1
            weight[shared] += weight[k]
            length[shared] += length[k]
        else:  # entry = [0.0, 0.0] + b's, at the end of a's and of c's order
            weight[k] = 0.0 + weight[k]
            length[k] = 0.0 + length[k]
            _append(node, a, head, tail, nxt, prv)
            target[twin] = a
            _append(twin, c, head, tail, nxt, prv)
        node = following
    head[b], tail[b] = -1, -1


@_jit
def greedy_merge(n, rows, cols, weight, length, area, value, has_value, scale):
    """n regions; link k joins regions rows[k] < cols[k] (distinct pairs, in the table's
    order) with summed weight[k] and length[k] (float64, updated in place, as are area (n,)
    and value (n,) region means, ignored unless has_value). Returns merges (M, 2) int64 (the
    surviving region first) and affinity (M,) float64, in merge order."""
    links = rows.shape[0]
    head, tail = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    target, nxt, prv = np.empty(2 * links, np.int64), np.empty(2 * links, np.int64), np.empty(2 * links, np.int64)
    for k in range(links):  # neighbours[a][b] = neighbours[b][a] = entry
        target[2 * k], target[2 * k + 1] = cols[k], rows[k]
        _append(2 * k, rows[k], head, tail, nxt, prv)
        _append(2 * k + 1, cols[k], head, tail, nxt, prv)

    # the heap: key and pool slot per position; the pool: each entry's (lo, hi, vlo, vhi)
    capacity = max(16, 2 * links)
    key, heap = np.empty(capacity), np.empty(capacity, np.int64)
    lo, hi = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
    vlo, vhi, free = np.zeros(capacity, np.int64), np.zeros(capacity, np.int64), np.empty(capacity, np.int64)
    size = 0
    for a in range(n):  # the initial list: a ascending, each a's neighbours in dict order
        node = head[a]
        while node >= 0:
            c, k = target[node], node >> 1
            if a < c:
                key[size] = -_affinity(a, c, weight[k], length[k], area, scale, value, has_value)
                lo[size], hi[size], heap[size] = a, c, size
                size += 1
            node = nxt[node]
    for i in range(size // 2 - 1, -1, -1):  # heapq.heapify
        _sift_up(key, heap, size, i, lo, hi, vlo, vhi)
    nfree = capacity - size
    for i in range(nfree):
        free[i] = capacity - 1 - i

    version = np.zeros(n, np.int64)
    stamp, slot = np.full(n, -1, np.int64), np.empty(n, np.int64)
    merges, merged = np.empty((max(n - 1, 0), 2), np.int64), np.empty(max(n - 1, 0))
    m = 0
    while size > 0:
        top_key, top = key[0], heap[0]  # heapq.heappop
        size -= 1
        if size > 0:
            key[0], heap[0] = key[size], heap[size]
            _sift_up(key, heap, size, 0, lo, hi, vlo, vhi)
        free[nfree] = top
        nfree += 1
        a, b = lo[top], hi[top]
        if version[a] != vlo[top] or version[b] != vhi[top]:
            continue  # stale: a or b changed since this entry was pushed
        merges[m, 0], merges[m, 1], merged[m] = a, b, -top_key
        if has_value:
            value[a] = (value[a] * area[a] + value[b] * area[b]) / (area[a] + area[b])
        _absorb(a, b, m, head, tail, target, nxt, prv, stamp, slot, weight, length)
        area[a] += area[b]
        version[a] += 1
        version[b] += 1
        m += 1
        va, node = version[a], head[a]
        while node >= 0:  # heapq.heappush of each of a's borders, in a's order
            c, k = target[node], node >> 1
            if nfree == 0:  # every slot is in the heap: double them
                grown = 2 * capacity
                key, heap, lo, hi = _grow(key, grown), _grow(heap, grown), _grow(lo, grown), _grow(hi, grown)
                vlo, vhi, free = _grow(vlo, grown), _grow(vhi, grown), np.empty(grown, np.int64)
                for i in range(capacity):
                    free[i] = grown - 1 - i
                nfree, capacity = capacity, grown
            nfree -= 1
            e = free[nfree]
            if a < c:
                lo[e], hi[e], vlo[e], vhi[e] = a, c, va, version[c]
            else:
                lo[e], hi[e], vlo[e], vhi[e] = c, a, version[c], va
            key[size] = -_affinity(a, c, weight[k], length[k], area, scale, value, has_value)
            heap[size] = e
            size += 1
            _sift_down(key, heap, 0, size - 1, lo, hi, vlo, vhi)
            node = nxt[node]
    return merges[:m], merged[:m]
