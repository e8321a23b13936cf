"""Reconstruction / generation metrics, in the object's [-1, 1] frame.

- Chamfer: both the L2 form (mean squared nearest-neighbour distance a->b plus b->a; PartCrafter's
  "L2 Chamfer") and the L1 form (mean nearest-neighbour distance, averaged over both directions).
- F-score at tau (0.02 as AutoPartGen, 0.1 as PartCrafter): harmonic mean of the fraction of a's points
  within tau of b and of b's points within tau of a.
- IoU of two occupancy grids (64^3 over [-1, 1]^3).
- Box-fit: fraction of a part's surface samples inside its box (grown by `tol`).
"""
from __future__ import annotations

import numpy as np


def _nn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(b).query(a, k=1)[0]


def _distances(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Nearest-neighbour distances a -> b and b -> a, or None when either set is empty."""
    if len(a) == 0 or len(b) == 0:
        return None
    return _nn(a, b), _nn(b, a)


def _chamfer(d) -> dict[str, float]:
    if d is None:
        return {"chamfer_l2": float("inf"), "chamfer_l1": float("inf")}
    ab, ba = d
    return {"chamfer_l2": float((ab ** 2).mean() + (ba ** 2).mean()), "chamfer_l1": float((ab.mean() + ba.mean()) / 2)}


def _fscore(d, tau: float) -> float:
    if d is None:
        return 0.0
    precision, recall = float((d[0] < tau).mean()), float((d[1] < tau).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def chamfer(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """(N, 3), (K, 3) point sets -> {"chamfer_l2", "chamfer_l1"}; inf when either is empty."""
    return _chamfer(_distances(a, b))


def fscore(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    return _fscore(_distances(a, b), tau)


def iou(occ_a: np.ndarray, occ_b: np.ndarray) -> float:
    """Two bool grids of the same shape -> intersection over union (1.0 when both are empty)."""
    union = np.logical_or(occ_a, occ_b).sum()
    return 1.0 if union == 0 else float(np.logical_and(occ_a, occ_b).sum() / union)


def box_fit(points: np.ndarray, bbox_min: np.ndarray, bbox_max: np.ndarray, tol: float = 0.03) -> float:
    """Fraction of (N, 3) surface points inside the box grown by `tol` (default: about one 64^3 voxel)."""
    if len(points) == 0:
        return 0.0
    inside = np.all((points >= np.asarray(bbox_min) - tol) & (points <= np.asarray(bbox_max) + tol), axis=1)
    return float(inside.mean())


def mesh_occupancy_grid(vertices: np.ndarray, faces: np.ndarray, resolution: int = 64, thickness: float = 0.01,
                        surface: np.ndarray | None = None) -> np.ndarray:
    """Reference occupancy of a mesh on the (R, R, R) grid of `mesh.grid_points` (same policy as the
    training labels: winding number / ray parity, plus a thickness shell measured on `surface`, a
    dense sample; None draws one)."""
    from partverse.train.mesh import grid_points
    from partverse.train.occupancy import occupancy

    if len(faces) == 0:
        return np.zeros((resolution,) * 3, bool)
    return occupancy(vertices, faces, grid_points(resolution), surface, thickness).reshape((resolution,) * 3)


def surface_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Chamfer (both forms) and F-score at 0.02 / 0.1 between two surface samples (one k-d tree query
    each way, shared by all four)."""
    d = _distances(pred, ref)
    return {**_chamfer(d), "fscore_0.02": _fscore(d, 0.02), "fscore_0.1": _fscore(d, 0.1)}
