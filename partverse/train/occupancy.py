"""Occupancy labels for part meshes, and box surface samples.

Non-watertight policy: artist parts are often open (a sail, a leaf, a shirt without a bottom).
A query is inside when its generalized winding number is >= 0.5 (Jacobson et al. 2013: robust to
holes, gaps and self-intersections; equals the usual inside test for closed meshes) OR when it lies
within `thickness` of the surface (distance to a dense surface sample: spacing about thickness / 3, so
the shell is accurate to ~0.1 thickness; the 4096 stored part samples are far too sparse for this: with
them 39% of near-surface labels on the Kenney motorcycle disagreed with the exact point-mesh distance).
Open sheets and zero-volume parts thus become shells of thickness 2*thickness instead of vanishing.
Speed: watertight parts take the exact ray-parity test (trimesh `contains`, embree when installed).
Open parts: each query casts rays in 7 fixed directions; a query whose 7 parities agree keeps that
answer, the others (and only inside the part's bounding box: outside it the surface subtends less
than a hemisphere, so |w| < 0.5) get the winding number. On the open Kenney truck body this matched
the pure winding number on 99.5% of queries (parity majority alone: 95.4%), ~2x faster there and
far faster on nearly-closed parts. Either test only runs inside the part's bounding box (a 64^3 grid
over [-1, 1]^3 is mostly outside a part's box).
"""
from __future__ import annotations

import numpy as np


def winding_number(vertices: np.ndarray, faces: np.ndarray, queries: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """Generalized winding number of (Q, 3) queries w.r.t. a triangle soup (V, 3) / (F, 3) -> (Q,).
    Solid angle per triangle (Van Oosterom & Strackee), vectorised in chunks of queries x faces."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]  # (F, 3, 3)
    queries = np.asarray(queries, np.float64)
    out = np.empty(len(queries))
    step = max(1, chunk // max(1, len(tri)))
    for s in range(0, len(queries), step):
        d = tri[None] - queries[s:s + step, None, None, :]  # (q, F, 3, 3)
        n = np.linalg.norm(d, axis=-1)  # (q, F, 3)
        a, b, c = d[..., 0, :], d[..., 1, :], d[..., 2, :]
        det = np.einsum("qfi,qfi->qf", a, np.cross(b, c))
        dots = (np.einsum("qfi,qfi->qf", a, b) * n[..., 2] + np.einsum("qfi,qfi->qf", b, c) * n[..., 0]
                + np.einsum("qfi,qfi->qf", c, a) * n[..., 1])
        denom = n[..., 0] * n[..., 1] * n[..., 2] + dots
        out[s:s + step] = np.arctan2(det, denom).sum(axis=1) / (2.0 * np.pi)
    return out


_DIRECTIONS = np.random.default_rng(7).normal(size=(7, 3))
_DIRECTIONS /= np.linalg.norm(_DIRECTIONS, axis=1, keepdims=True)


def _parity_votes(mesh, queries: np.ndarray) -> np.ndarray:
    """(Q,) how many of the fixed ray directions cross the surface an odd number of times."""
    votes = np.zeros(len(queries), np.int64)
    if len(queries) == 0:
        return votes
    for d in _DIRECTIONS:
        _, ray = mesh.ray.intersects_id(queries, np.broadcast_to(d, queries.shape).copy(), multiple_hits=True)
        votes += np.bincount(ray, minlength=len(queries)) % 2
    return votes


DENSE_MIN, DENSE_MAX = 20_000, 250_000


def dense_surface(vertices: np.ndarray, faces: np.ndarray, thickness: float, seed: int = 0) -> np.ndarray:
    """Surface samples (K, 3) with mean spacing about thickness / 3 (K clipped to [2e4, 2.5e5])."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    count = int(np.clip(area / max(thickness / 3, 1e-6) ** 2, DENSE_MIN, DENSE_MAX))
    return sample_surface(vertices, faces, count, np.random.default_rng(seed))[0]


def occupancy(vertices: np.ndarray, faces: np.ndarray, queries: np.ndarray, surface: np.ndarray | None,
              thickness: float) -> np.ndarray:
    """(Q, 3) queries -> (Q,) bool inside, by the policy in the module docstring.
    `surface` (K, 3): a dense sample of the mesh surface for the thickness test; None draws one
    (`dense_surface`)."""
    import trimesh
    from scipy.spatial import cKDTree

    queries = np.asarray(queries, np.float64)
    mesh = trimesh.Trimesh(vertices, faces)  # welds duplicate vertices so closed parts test watertight
    inside = np.zeros(len(queries), bool)
    lo, hi = np.asarray(vertices).min(0), np.asarray(vertices).max(0)
    near = np.all((queries >= lo) & (queries <= hi), axis=1)  # outside the bounding box nothing is inside
    if mesh.is_watertight and mesh.is_winding_consistent:
        inside[near] = mesh.contains(queries[near])
    else:
        odd = _parity_votes(mesh, queries[near])
        inside[near] = odd == len(_DIRECTIONS)
        unsure = np.flatnonzero(near)[(odd > 0) & (odd < len(_DIRECTIONS))]
        inside[unsure] = np.abs(winding_number(vertices, faces, queries[unsure])) >= 0.5
    if thickness > 0:
        if surface is None:
            surface = dense_surface(vertices, faces, thickness)
        dist, _ = cKDTree(surface).query(queries, k=1, distance_upper_bound=thickness)  # inf beyond: 80x faster
        inside |= dist < thickness
    return inside


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator):
    """Area-weighted surface samples -> points (count, 3) float32, normals (count, 3) float32
    (`geometry.sampling.sample_surface_iid`); a part without area is refused (ValueError)."""
    from partverse.geometry.sampling import sample_surface_iid

    return sample_surface_iid(vertices, faces, count, rng, require_area=True)


def box_surface(bbox_min: np.ndarray, bbox_max: np.ndarray, count: int, rng: np.random.Generator):
    """Points and outward normals on the 6 faces of an axis-aligned box, area-weighted -> (count, 3) x2.
    Degenerate (flat) boxes are padded to a minimum extent so every face has area."""
    lo, hi = np.asarray(bbox_min, np.float64), np.asarray(bbox_max, np.float64)
    ext = np.maximum(hi - lo, 1e-3)
    areas = np.array([ext[1] * ext[2], ext[0] * ext[2], ext[0] * ext[1]]).repeat(2)
    side = rng.choice(6, size=count, p=areas / areas.sum())
    axis, sign = side // 2, side % 2  # sign 0 -> min face, 1 -> max face
    pts = lo + rng.random((count, 3)) * ext
    pts[np.arange(count), axis] = np.where(sign == 1, lo[axis] + ext[axis], lo[axis])
    normals = np.zeros((count, 3))
    normals[np.arange(count), axis] = np.where(sign == 1, 1.0, -1.0)
    return pts.astype(np.float32), normals.astype(np.float32)
