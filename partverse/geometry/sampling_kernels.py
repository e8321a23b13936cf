"""The per-face and per-sample steps of surface sampling as compiled loops (numba).

`face_rows`: every face's row (corner a, edges, unit normal) and doubled area in one pass over
the faces (numpy needed a dozen passes, each with a temporary). `place`: the face of each sample
from the per-face counts and the shared shuffle, then its point on the triangle and its normal.

For `place`, numpy needed ten passes over the samples (gathers, products, sums, each through
memory); the loop reads one 48-byte face row per sample and writes its 24 bytes of output once. The
uniforms come two to a 64-bit word of the bit generator (`random_raw`), half the generator calls
of numpy's float32 fill. The arithmetic is plain float32 in a fixed order (sqrt, s * u1,
(ab * s + a) + bc * t; no fused multiply-add, since numba compiles without fast-math), so a
sample does not depend on the machine's vector width.

Compiled on first use and cached on disk (numba's `cache=True`: next to this file, or in the
user's cache directory when that is read-only); `kernels()` imports numba only when called.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

ROW_FLOATS = 12  # a face row: corner a, b - a, c - b, unit normal (float32 x 3 each)


@functools.cache
def kernels() -> SimpleNamespace:
    """The compiled kernels `face_rows` and `place` (see their docstrings)."""
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def face_rows(corners, rows, double_area):
        """corners (3, 3, F) float64 [coordinate, corner, face] -> rows (F, 12) float32 (a, b - a,
        c - b, unit normal or zero when degenerate) and double_area (F,) = |(b - a) x (c - b)|."""
        for f in range(corners.shape[2]):
            ax, ay, az = corners[0, 0, f], corners[1, 0, f], corners[2, 0, f]
            abx, aby, abz = corners[0, 1, f] - ax, corners[1, 1, f] - ay, corners[2, 1, f] - az
            bcx = corners[0, 2, f] - corners[0, 1, f]
            bcy = corners[1, 2, f] - corners[1, 1, f]
            bcz = corners[2, 2, f] - corners[2, 1, f]
            nx, ny, nz = aby * bcz - abz * bcy, abz * bcx - abx * bcz, abx * bcy - aby * bcx
            d = np.sqrt(nx * nx + ny * ny + nz * nz)
            double_area[f] = d
            inv = 1.0 / d if d > 0 else 0.0
            r = rows[f]
            r[0], r[1], r[2], r[3], r[4], r[5] = ax, ay, az, abx, aby, abz
            r[6], r[7], r[8], r[9], r[10], r[11] = bcx, bcy, bcz, nx * inv, ny * inv, nz * inv

    return SimpleNamespace(face_rows=face_rows, place=_place())


def _place():
    """The compiled `place(counts, f0, f1, shuffle, raw, rows, points, normals, positions, lo, k, n)`.

    For the chunk of k groups whose faces are f0:f1 of the group-sorted faces (every group's counts
    sum to n): the samples of group i, face-sorted, are shuffled by `shuffle` (a permutation of
    0..n-1) and sample j of the chunk is placed on face row rows[12 f : 12 f + 12] (flat float32)
    with the two 24-bit uniforms of the 64-bit word raw[j] (its top 24 bits, then the next 24),
    as float32 multiples of 2^-24. Writes points and normals (flat float32, 3 per sample) at
    sample lo + j, and the face (its position in the sorted faces) into `positions` unless that is
    empty."""
    import numba
    import numpy as np

    SHIFT_U0, SHIFT_U1, LOW_24 = np.uint64(40), np.uint64(16), np.uint64(0xFFFFFF)
    UNIT = np.float32(2.0 ** -24)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def place(counts, f0, f1, shuffle, raw, rows, points, normals, positions, lo, k, n):
        sorted_faces = np.empty(k * n, np.int64)
        at = 0
        for f in range(f0, f1):  # every group's samples, face-sorted
            c = counts[f]
            sorted_faces[at:at + c] = f
            at += c
        with_faces = positions.size > 0
        for g in range(k):
            base = g * n
            for j in range(n):
                f = sorted_faces[base + shuffle[j]]
                r = ROW_FLOATS * f
                i = base + j
                word = raw[i]
                u0 = np.float32(word >> SHIFT_U0) * UNIT
                u1 = np.float32((word >> SHIFT_U1) & LOW_24) * UNIT
                s = np.float32(np.sqrt(np.float64(u0)))  # == float32 sqrt (correctly rounded)
                t = s * u1
                o = 3 * (lo + i)
                points[o] = (rows[r + 3] * s + rows[r]) + rows[r + 6] * t
                points[o + 1] = (rows[r + 4] * s + rows[r + 1]) + rows[r + 7] * t
                points[o + 2] = (rows[r + 5] * s + rows[r + 2]) + rows[r + 8] * t
                normals[o] = rows[r + 9]
                normals[o + 1] = rows[r + 10]
                normals[o + 2] = rows[r + 11]
                if with_faces:
                    positions[lo + i] = f

    return place
