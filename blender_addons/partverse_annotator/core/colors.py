"""Distinct display colours per segment, expanded to face corners, vectorized."""
from __future__ import annotations

import numpy as np


def segment_palette(count: int) -> np.ndarray:
    """(count, 4) float32 RGBA in [0, 1]: golden-ratio hues, alternating value, so neighbours differ."""
    ids = np.arange(count, dtype=np.float64)
    h = (ids * 0.6180339887498949) % 1.0
    s = np.where(ids % 2 == 0, 0.65, 0.85)
    v = np.where(ids % 3 == 0, 0.95, np.where(ids % 3 == 1, 0.75, 0.55))
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b, np.ones_like(r)], axis=1).astype(np.float32)


def corner_colors(labels: np.ndarray, corner_face: np.ndarray | None, per_face: int | None = None) -> np.ndarray:
    """(F,) segment ids -> flat (C * 4,) float32 RGBA for foreach_set. Corners are given either by
    `corner_face` ((C,) face of each corner) or, when every face has `per_face` corners, implicitly."""
    palette = segment_palette(int(labels.max(initial=0)) + 1)
    if corner_face is None:
        return np.repeat(palette[labels], per_face, axis=0).reshape(-1)
    return palette[labels[corner_face]].reshape(-1)
