"""Compiled (numba) band of `borders.band_candidates`: the labels within a few links of each face.

Each face keeps a short linked list of the other labels found so far; ring 1 adds its neighbours'
labels, every later ring carries the labels the previous ring added to the neighbours whose own
label differs. Each (face, label) is added once (the face's list is checked first), so the work
is proportional to the band, not to the mesh. Module-level functions cached on disk, as in
`hierarchy_kernels`.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@_jit
def _add(face, label, head, entry_face, entry_label, entry_next, count):
    """Appends (face, label) unless the face's list has it; returns the new count (arrays grown by
    the caller when full)."""
    k = head[face]
    while k >= 0:
        if entry_label[k] == label:
            return count
        k = entry_next[k]
    entry_face[count], entry_label[count], entry_next[count] = face, label, head[face]
    head[face] = count
    return count + 1


@_jit
def band_labels(indptr, indices, labels, rings):
    """(face, label) arrays, unsorted, without repeats: every label other than a face's own within
    `rings` links of it over the CSR neighbour lists (indptr, indices)."""
    n = len(labels)
    size = 4 * n + 16
    entry_face = np.empty(size, np.int64)
    entry_label = np.empty(size, np.int64)
    entry_next = np.empty(size, np.int64)
    head = np.full(n, -1, np.int64)
    count = 0
    first, last = 0, 0
    for ring in range(rings):
        for t in range(n if ring == 0 else last - first):
            if ring == 0:
                f, carried = t, -1
            else:
                f, carried = entry_face[first + t], entry_label[first + t]
            for k in range(indptr[f], indptr[f + 1]):
                g = indices[k]
                label = labels[g] if ring == 0 else carried
                if ring == 0 and label == labels[f]:
                    continue
                target = f if ring == 0 else g
                if ring > 0 and labels[g] == carried:
                    continue
                if count == size:  # grow
                    size *= 2
                    entry_face = np.concatenate((entry_face, np.empty(size - count, np.int64)))
                    entry_label = np.concatenate((entry_label, np.empty(size - count, np.int64)))
                    entry_next = np.concatenate((entry_next, np.empty(size - count, np.int64)))
                count = _add(target, label, head, entry_face, entry_label, entry_next, count)
        first, last = (0, count) if ring == 0 else (last, count)
    return entry_face[:count], entry_label[:count]
