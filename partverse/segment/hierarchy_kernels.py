"""The greedy merge loop of `hierarchy` as a compiled loop (numba), over plain arrays.

It gives the same merges and the same affinity bits as a Python loop over one dict of neighbours
per region and a `heapq` of tuples (key, a, b, va, vb), key = -affinity (NaN: +inf, after every
other), which pushes every border of the survivor anew after each merge (kept in
tests/test_segment_hierarchy.py as the reference). Each region's neighbours are a doubly linked
list of link nodes in the order the dict held them (insertion order; a key assigned again keeps its
place). Nodes come in twins, 2k in one region's list and 2k + 1 in the other's, sharing link k's
summed weight and length, so a merge moves or drops nodes and never allocates.

The queue is lazy: each link has one current entry, whose key is the link's key or sorts before
it (a key only falls when a region's area grows, except through the summed border and the
thickness factor). After a merge only the survivor's borders whose key rose, or whose region ids
changed, are queued again; an entry popped with a stale key is queued again at its current one, and
one popped with its current key is the merge the reference makes (every other link's key sorts
after its entry, which sorts after this one; ties go to the lower region ids, as in the reference).
Re-pushing every border was near-quadratic once one region grew large: 19 s for 20k regions all
tied at association 0 (SAM-2 evidence at zero weight, now `geometric.EVIDENCE_WEIGHT`), 5.8 s with
evidence on 41k of 57k links; lazily 3.4 s and 1.2 s, and 0.12 s once those borders are no longer
all tied (850k faces, against 0.12 s without evidence). The arithmetic is the loop's, in its
order (no fast-math, `math.exp`).

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
def _before(key_i, i, key_j, j, lo, hi):
    """Entry (key_i, pool slot i) sorts before (key_j, j): lower key (keys hold no NaN, see
    `_heap_key`), then lower region ids (lo, hi)."""
    if key_i != key_j:
        return key_i < key_j
    if lo[i] != lo[j]:
        return lo[i] < lo[j]
    return hi[i] < hi[j]


@_inline
def _heap_key(affinity):
    """Queue key of an affinity: its negative (highest first); NaN after everything (+inf)."""
    return -affinity if affinity == affinity else math.inf


@_inline
def _sift_down(key, heap, start, pos, lo, hi):
    """Move entry pos toward the root until its parent does not sort after it (heapq._siftdown)."""
    item_key, item = key[pos], heap[pos]
    while pos > start:
        parent = (pos - 1) >> 1
        if not _before(item_key, item, key[parent], heap[parent], lo, hi):
            break
        key[pos], heap[pos] = key[parent], heap[parent]
        pos = parent
    key[pos], heap[pos] = item_key, item


@_inline
def _sift_up(key, heap, size, pos, lo, hi):
    """Move the smaller child up to a leaf, then sift the entry down there (heapq._siftup)."""
    start, item_key, item = pos, key[pos], heap[pos]
    child = 2 * pos + 1
    while child < size:
        right = child + 1
        if right < size and not _before(key[child], heap[child], key[right], heap[right], lo, hi):
            child = right
        key[pos], heap[pos] = key[child], heap[child]
        pos = child
        child = 2 * pos + 1
    key[pos], heap[pos] = item_key, item
    _sift_down(key, heap, start, pos, lo, hi)


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
def _absorb(a, b, m, head, tail, target, nxt, prv, stamp, slot, weight, length, live):
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
            live[k] = -1  # b's link to c is gone
        else:  # entry = [0.0, 0.0] + b's, at the end of a's and of c's order
            weight[k] = 0.0 + weight[k]
            length[k] = 0.0 + length[k]
            _append(node, a, head, tail, nxt, prv)
            target[twin] = a
            _append(twin, c, head, tail, nxt, prv)
        node = following
    head[b], tail[b] = -1, -1


@_inline
def _push(k, x, y, hk, live, size, nfree, capacity, key, heap, lo, hi, link, held, free):
    """Queue link k between regions x < y at key hk as its current entry (heap position `size`;
    the caller counts it), doubling the pool when every slot is in use. Returns the pool state."""
    if nfree == 0:
        grown = 2 * capacity
        key, heap, lo, hi = _grow(key, grown), _grow(heap, grown), _grow(lo, grown), _grow(hi, grown)
        link, held = _grow(link, grown), _grow(held, grown)
        free = np.empty(grown, np.int64)
        for i in range(capacity):
            free[i] = grown - 1 - i
        nfree, capacity = capacity, grown
    nfree -= 1
    e = free[nfree]
    lo[e], hi[e], link[e], held[e], live[k] = x, y, k, hk, e
    key[size], heap[size] = hk, e
    _sift_down(key, heap, 0, size, lo, hi)
    return nfree, capacity, key, heap, lo, hi, link, held, free


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

    # the heap: key and pool slot per position; the pool: each entry's (lo, hi), link and key
    # (held); live: each link's one current entry (-1: the link is gone)
    capacity = max(16, 2 * links)
    key, heap = np.empty(capacity), np.empty(capacity, np.int64)
    lo, hi, link, free = np.empty(capacity, np.int64), np.empty(capacity, np.int64), np.empty(capacity, np.int64), \
        np.empty(capacity, np.int64)
    held = np.empty(capacity)
    live = np.full(max(links, 1), -1, np.int64)
    size = 0
    for k in range(links):
        key[size] = _heap_key(_affinity(rows[k], cols[k], weight[k], length[k], area, scale, value, has_value))
        lo[size], hi[size], link[size], held[size], heap[size], live[k] = rows[k], cols[k], k, key[size], size, size
        size += 1
    for i in range(size // 2 - 1, -1, -1):  # heapify
        _sift_up(key, heap, size, i, lo, hi)
    nfree = capacity - size
    for i in range(nfree):
        free[i] = capacity - 1 - i

    stamp, slot = np.full(n, -1, np.int64), np.empty(n, np.int64)
    merges, merged = np.empty((max(n - 1, 0), 2), np.int64), np.empty(max(n - 1, 0))
    m = 0
    while size > 0:
        top = heap[0]  # pop
        size -= 1
        if size > 0:
            key[0], heap[0] = key[size], heap[size]
            _sift_up(key, heap, size, 0, lo, hi)
        free[nfree] = top
        nfree += 1
        k = link[top]
        if live[k] != top:
            continue  # the link is gone, or has a newer entry
        a, b = min(target[2 * k], target[2 * k + 1]), max(target[2 * k], target[2 * k + 1])
        current = _affinity(a, b, weight[k], length[k], area, scale, value, has_value)
        if _heap_key(current) != held[top] or lo[top] != a or hi[top] != b:  # stale: queue it as it is now
            nfree, capacity, key, heap, lo, hi, link, held, free = _push(
                k, a, b, _heap_key(current), live, size, nfree, capacity, key, heap, lo, hi, link, held, free)
            size += 1
            continue
        merges[m, 0], merges[m, 1], merged[m] = a, b, current
        if has_value:
            value[a] = (value[a] * area[a] + value[b] * area[b]) / (area[a] + area[b])
        live[k] = -1
        _absorb(a, b, m, head, tail, target, nxt, prv, stamp, slot, weight, length, live)
        area[a] += area[b]
        m += 1
        node = head[a]
        while node >= 0:  # a's borders: queue again those whose key rose (sorts before their entry) or renamed
            c, j = target[node], node >> 1
            e = live[j]
            x, y = min(a, c), max(a, c)
            fresh = _heap_key(_affinity(a, c, weight[j], length[j], area, scale, value, has_value))
            if fresh < held[e] or (fresh == held[e] and (lo[e] != x or hi[e] != y)):
                nfree, capacity, key, heap, lo, hi, link, held, free = _push(
                    j, x, y, fresh, live, size, nfree, capacity, key, heap, lo, hi, link, held, free)
                size += 1
            node = nxt[node]
    return merges[:m], merged[:m]
