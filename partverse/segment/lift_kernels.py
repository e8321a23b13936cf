"""Compiled (numba) loops of `lift`: the per-view best mask of every face, and the per-row argmax
of a sparse matrix.

They replaced sorts over every (face, mask) pair of every view (scipy's COO -> CSR, then a
lexsort), which were most of the lifting time: one pass over the pixels of each view counts the
pixels per (face, mask) in short per-face lists, and one pass over the faces that view saw keeps
each face's best mask. The votes are the same arrays the sorts gave (ties: the lowest mask;
the lowest column in `row_argmax`). Module-level functions, cached on disk.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@_jit
def best_mask_votes(face_ids, mask_labels, offset, num_faces, min_pixels):
    """(face, column, pixels) int64 arrays, view by view, of every face's best mask in each view:
    the mask covering most of its pixels (the lowest mask on ties), kept with >= min_pixels
    pixels. face_ids, mask_labels: (N, P) int64 (-1 = background / no mask); offset: (N + 1,)
    first column of each view's masks."""
    n_views, n_pixels = face_ids.shape
    head = np.full(num_faces, -1, np.int64)  # per face: its (mask, count) list in this view
    entry_mask = np.empty(n_pixels, np.int64)  # a view adds at most one entry per pixel
    entry_count = np.empty(n_pixels, np.int64)
    entry_next = np.empty(n_pixels, np.int64)
    touched = np.empty(num_faces, np.int64)
    out_face = np.empty(16, np.int64)
    out_col = np.empty(16, np.int64)
    out_count = np.empty(16, np.int64)
    kept = 0
    for v in range(n_views):
        used, n_touched = 0, 0
        for p in range(n_pixels):
            f, m = face_ids[v, p], mask_labels[v, p]
            if f < 0 or m < 0:
                continue
            k = head[f]
            if k < 0:
                touched[n_touched] = f
                n_touched += 1
            while k >= 0 and entry_mask[k] != m:
                k = entry_next[k]
            if k >= 0:
                entry_count[k] += 1
                continue
            entry_mask[used], entry_count[used], entry_next[used] = m, 1, head[f]
            head[f] = used
            used += 1
        for t in range(n_touched):
            f = touched[t]
            best_mask, best_count = -1, 0
            k = head[f]
            while k >= 0:
                c, m = entry_count[k], entry_mask[k]
                if c > best_count or (c == best_count and m < best_mask):
                    best_mask, best_count = m, c
                k = entry_next[k]
            head[f] = -1
            if best_count >= min_pixels:
                if kept == len(out_face):  # grow the output
                    out_face = np.concatenate((out_face, np.empty(kept, np.int64)))
                    out_col = np.concatenate((out_col, np.empty(kept, np.int64)))
                    out_count = np.concatenate((out_count, np.empty(kept, np.int64)))
                out_face[kept], out_col[kept], out_count[kept] = f, offset[v] + best_mask, best_count
                kept += 1
    return out_face[:kept], out_col[:kept], out_count[:kept]


@_jit
def csr_row_argmax(indptr, indices, data):
    """Per CSR row: the column of its largest entry (the lowest column on ties), among positive
    entries only, and whether it has one; (R,) int64, (R,) bool. Every stored entry counts on its
    own (duplicates are not summed)."""
    rows = len(indptr) - 1
    best = np.zeros(rows, np.int64)
    has = np.zeros(rows, np.bool_)
    for r in range(rows):
        top, col = 0.0, -1
        for k in range(indptr[r], indptr[r + 1]):
            d, c = data[k], indices[k]
            if d > top or (d == top and d > 0 and c < col):
                top, col = d, c
        if col >= 0:
            best[r], has[r] = col, True
    return best, has
