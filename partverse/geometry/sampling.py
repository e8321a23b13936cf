"""Seeded, area-weighted surface sampling."""
from __future__ import annotations

import numpy as np


def face_areas_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) float64 areas and (F, 3) float64 unit normals (zero for degenerate faces)."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return norm / 2.0, normals


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` points drawn uniformly by area over the triangles, the same for the same seed.

    vertices (V, 3), faces (F, 3) -> points (n, 3) float32, normals (n, 3) float32 (face normals),
    face_index (n,) int64. A surface of zero area (only degenerate faces) is sampled with equal
    weight per face, with zero normals. Raises ValueError when there are no faces."""
    if len(faces) == 0:
        raise ValueError("cannot sample a surface without faces")
    areas, normals = face_areas_normals(vertices, faces)
    if not areas.sum() > 0:
        areas = np.ones(len(faces))
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(areas)
    face_index = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    face_index = np.minimum(face_index, len(faces) - 1)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    bary = np.stack([1.0 - s, s * (1.0 - r2), s * r2], axis=1)
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)[face_index]]
    points = np.einsum("nk,nkd->nd", bary, tri)
    return points.astype(np.float32), normals[face_index].astype(np.float32), face_index.astype(np.int64)


CHUNK_SAMPLES = 1 << 20  # samples drawn per step: bounds memory for objects with many parts


def sample_groups(vertices: np.ndarray, faces: np.ndarray, groups: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` area-weighted samples for every group of faces, vectorized over groups (in chunks of
    about CHUNK_SAMPLES samples to bound memory).

    groups: (F,) int labels. Returns points (G, n, 3) float32, normals (G, n, 3) float32 and
    face_index (G, n) int64, groups in sorted label order. Same seed, same samples. A group of
    zero area is sampled with equal weight per face."""
    groups = np.asarray(groups).reshape(-1)
    order = np.argsort(groups, kind="stable")
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    areas, normals = face_areas_normals(vertices, np.asarray(faces)[order])
    group_area = np.add.reduceat(areas, starts)
    flat = group_area[np.repeat(np.arange(len(starts)), counts)] <= 0
    areas = np.where(flat, 1.0, areas)  # zero-area groups: uniform over their faces
    cumulative = np.cumsum(areas)
    before = np.concatenate([[0.0], cumulative])[starts]
    totals = np.add.reduceat(areas, starts)
    # per-face corner a and edges (b - a), (c - b) in float32: three small gathers per sample
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)[order]]
    a = tri[:, 0].astype(np.float32)
    ab = (tri[:, 1] - tri[:, 0]).astype(np.float32)
    bc = (tri[:, 2] - tri[:, 1]).astype(np.float32)
    normals = normals.astype(np.float32)
    rng = np.random.default_rng(seed)
    g = len(starts)
    points, out_normals, face_index = np.empty((g, n, 3), np.float32), np.empty((g, n, 3), np.float32), np.empty((g, n), np.int64)
    step = max(1, CHUNK_SAMPLES // max(n, 1))
    for lo in range(0, g, step):  # chunks of groups, not faces
        hi = min(g, lo + step)
        # sorted uniforms make the targets globally sorted, which makes searchsorted several times
        # faster; a random permutation (shared by the groups) then restores i.i.d. order per group
        u = np.sort(rng.random((hi - lo, n)), axis=1)
        pick = np.searchsorted(cumulative, (before[lo:hi, None] + u * totals[lo:hi, None]).reshape(-1), side="right")
        pick = np.clip(pick.reshape(hi - lo, n), starts[lo:hi, None], (starts + counts - 1)[lo:hi, None])
        pick = pick[:, rng.permutation(n)]
        r1, r2 = rng.random((2, hi - lo, n, 1), dtype=np.float32)
        s = np.sqrt(r1)
        points[lo:hi] = a[pick] + s * ab[pick] + (s * r2) * bc[pick]
        out_normals[lo:hi] = normals[pick]
        face_index[lo:hi] = order[pick]
    return points, out_normals, face_index
