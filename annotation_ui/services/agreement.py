"""Agreement of two labelings of the same faces, after matching their parts (Hungarian matching)."""
from __future__ import annotations

import numpy as np


def dense_ids(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) int labels -> (sorted part ids (P,), (F,) index of each face's part): O(F) bincount for
    non-negative labels below 4F (the server's), a sort otherwise."""
    if labels.size and labels.min() >= 0 and labels.max() < 4 * labels.size + 1024:
        ids = np.flatnonzero(np.bincount(labels))
        lookup = np.zeros(int(ids[-1]) + 1, np.int64)
        lookup[ids] = np.arange(len(ids))
        return ids, lookup[labels]
    return np.unique(labels, return_inverse=True)


def overlap_matrix(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces shared by each part pair: (Pa, Pb) int64 counts, with the part ids of a (Pa,) and b (Pb,)."""
    ids_a, inv_a = dense_ids(a)
    ids_b, inv_b = dense_ids(b)
    counts = np.bincount(inv_a * len(ids_b) + inv_b, minlength=len(ids_a) * len(ids_b))
    return counts.reshape(len(ids_a), len(ids_b)), ids_a, ids_b


def face_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Share of faces whose part in `a` is matched to their part in `b`.

    a, b: (F,) int labels of the same mesh. Parts are matched one-to-one to maximise the faces they
    share (scipy's linear_sum_assignment); unmatched parts count as disagreement. Returns
    {"agreement": float in [0, 1], "matched": [[part_a, part_b, faces], ...], "parts_a", "parts_b"}.
    """
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a).ravel().astype(np.int64, copy=False), np.asarray(b).ravel().astype(np.int64, copy=False)
    if a.shape != b.shape:
        raise ValueError(f"face_agreement: labelings have {a.size} and {b.size} faces")
    if a.size == 0:
        return {"agreement": 1.0, "matched": [], "parts_a": 0, "parts_b": 0}
    counts, ids_a, ids_b = overlap_matrix(a, b)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    shared = counts[rows, cols]
    matched = [[int(ids_a[r]), int(ids_b[c]), int(n)] for r, c, n in zip(rows, cols, shared) if n > 0]
    return {"agreement": float(shared.sum() / a.size), "matched": matched,
            "parts_a": int(len(ids_a)), "parts_b": int(len(ids_b))}
