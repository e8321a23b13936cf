"""Visible part pixels per view, best view per part, 2D part boxes.

Parts are given per face: `face_labels` (F,) int, -1 = unlabelled. Counting is a bincount over
the face-id image, so it is exact for the rendered resolution.
"""
from __future__ import annotations

import numpy as np

from partverse.render.cameras import Camera


def pixel_labels(face_id: np.ndarray, face_labels: np.ndarray) -> np.ndarray:
    """face_id (H, W) int (-1 background) -> (H, W) int64 part label per pixel (-1 background)."""
    labels = np.asarray(face_labels, dtype=np.int64)
    out = np.full(face_id.shape, -1, dtype=np.int64)
    hit = face_id >= 0
    out[hit] = labels[face_id[hit]]
    return out


def visible_pixel_counts(face_id: np.ndarray, face_labels: np.ndarray, num_parts: int) -> np.ndarray:
    """(P,) int64: pixels of each label 0..P-1 in one face-id image (labels < 0 or >= P ignored)."""
    lab = pixel_labels(face_id, face_labels).ravel()
    lab = lab[(lab >= 0) & (lab < num_parts)]
    return np.bincount(lab, minlength=num_parts).astype(np.int64)


def best_views(counts: np.ndarray, object_pixels: np.ndarray) -> np.ndarray:
    """counts (V, P) visible pixels of part p in view v; object_pixels (V,) pixels of the whole.

    Returns (P,) int64: the view with the most visible part pixels; ties go to the view where the
    part's share of the object's pixels is larger, then to the lower view index; -1 if the part is
    visible in no view.
    """
    counts = np.asarray(counts, dtype=np.int64)
    share = counts / np.maximum(np.asarray(object_pixels, dtype=np.float64), 1.0)[:, None]
    best = counts.max(axis=0, keepdims=True)
    cand = np.where(counts == best, share, -1.0)  # only the views reaching the max compete
    out = np.argmax(cand, axis=0).astype(np.int64)  # argmax: first of equal shares
    out[best[0] == 0] = -1
    return out


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """(H, W) bool -> (4,) int64 pixel box [x0, y0, x1, y1) of the True pixels, or None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.int64)


def projected_box(camera: Camera, points: np.ndarray) -> np.ndarray:
    """(4,) float64 [x0, y0, x1, y1] of points (N, 3) in front of the camera, projected."""
    xy, depth = camera.project(points)
    xy = xy[depth > 0]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])
