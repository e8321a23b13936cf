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
    face_index (n,) int64. Raises ValueError when the surface has zero area."""
    areas, normals = face_areas_normals(vertices, faces)
    total = areas.sum()
    if not total > 0:
        raise ValueError(f"cannot sample a surface of zero area ({len(faces)} faces)")
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
