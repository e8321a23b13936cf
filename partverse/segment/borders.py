"""Border refinement: every segment border moved onto the cheapest cut within a few rings of faces.

The hierarchy's segments are unions of superfaces, so their borders are superface borders: on a
crease when one runs through the superface, elsewhere wherever two Voronoi cells happened to
meet. Katz & Tal (2003) settle a border by a minimum cut inside a fuzzy region around it; here all
borders at once, by one sweep of alpha-expansion (`graphcut`) over the segment labels:
- candidates of a face: its own segment and every segment within `rings` links of it (links that
  are blocked, e.g. artist-part borders, are never crossed, so a border can move only inside the
  piece it lies in); faces farther from every border keep their segment;
- no unary cost: the Potts weight of a link is what cutting it costs, so a border settles where
  the cut is cheapest (along creases and thickness changes, see `border_weights`);
- the result is split into connected pieces (a move may cut a thin segment in two) and renumbered
  by first face.
A segment lying wholly within `rings` links of its border may be absorbed by its neighbours when
its border costs more than theirs would: it is a sliver between two cheaper cuts.

On the Princeton benchmark (3 rings; `auto`, granularity 1, with `GRANULARITY_SCALE` retuned
to mean ratio 3): ASA 0.9470 -> 0.9501 at seed 0; over seeds 1-3 0.9446 / 0.9434 / 0.9454 (each
at its own best threshold) -> 0.9469 / 0.9448 / 0.9468 (at the default one); RI error at the
median count 0.098 -> 0.096. With the threshold cut that keeps every merge above it (stop 22):
0.9481 -> 0.9508 at seed 0, mean of seeds 0-3 0.9460 -> 0.9478 (unrefined at 3x by
interpolation).

Cost: the cut runs on the band only (its faces, the links touching them), and the moves of segments whose bands share no face or link run as one max flow (a
greedy colouring of the segments: 3-7 colours on the benchmark and the shared assets), so a
sweep is a handful of max flows, not one per segment; the band, the colouring and each move's
binary problem are compiled loops (`borders_kernels`, `graphcut_kernels`). Measured: 1.2-1.7x the
time of the geometric segmentation without it (median 1.34x over the PSB and shared assets).
"""
from __future__ import annotations

import numpy as np

from partverse.geometry.adjacency import connected_face_components, relabel_by_first_occurrence
from partverse.segment.graphcut import Candidates, alpha_expansion

# the Potts weight's floor relative to a mean link: keeps every cut, even along full-strength
# evidence, a little dearer than none, so borders do not wander where everything is free
WEIGHT_FLOOR = 1e-9


def border_weights(length: np.ndarray, strength: np.ndarray, log_diameter: np.ndarray | None,
                   pairs: np.ndarray, thickness_scale: float = 0.3) -> np.ndarray:
    """(E,) Potts weights: (length / mean length) x (1 - strength)^2 [x exp(-|d log diameter| /
    thickness_scale)] + WEIGHT_FLOOR. strength: (E,) crease strength in [0, 1] (1 - exp(-bend /
    crease_scale), with SAM-2 evidence at 1); log_diameter: (F,) smoothed log shape diameter or
    None. Squaring the strength's complement sharpens the crease: exp(-2 bend / crease_scale)."""
    mean = float(length.mean()) if len(length) else 1.0
    w = length / (mean if mean > 0 else 1.0) * (1.0 - strength) ** 2
    if log_diameter is not None:
        w = w * np.exp(-np.abs(log_diameter[pairs[:, 0]] - log_diameter[pairs[:, 1]]) / thickness_scale)
    return w + WEIGHT_FLOOR


def band_candidates(pairs: np.ndarray, labels: np.ndarray, rings: int) -> tuple[np.ndarray, np.ndarray]:
    """(face, label) arrays, sorted and without repeats, of every segment label other than a
    face's own within `rings` links of it (over (E, 2) `pairs`: pass only links borders may move
    across). One compiled pass per ring over the band only (`borders_kernels`)."""
    from partverse.geometry.adjacency_kernels import symmetric_csr
    from partverse.segment.borders_kernels import band_labels

    n = len(labels)
    width = int(labels.max()) + 1 if n else 1
    # the neighbour lists as compiled CSR arrays (no scipy matrix: its checks cost more than this)
    indptr, indices, _ = symmetric_csr(n, np.ascontiguousarray(pairs[:, 0], dtype=np.int64),
                                       np.ascontiguousarray(pairs[:, 1], dtype=np.int64), np.ones(len(pairs)))
    face, label = band_labels(indptr, indices, labels, int(rings))
    keys = np.sort(face * width + label)
    return keys // width, keys % width


def refine_borders(pairs: np.ndarray, weights: np.ndarray, labels: np.ndarray, rings: int = 3,
                   blocked: np.ndarray | None = None, sweeps: int = 1) -> np.ndarray:
    """(F,) int64 labels 0..K'-1 (connected pieces, numbered by first face) after moving the
    borders of (F,) `labels` onto the cheapest cut within `rings` links (module docstring).
    pairs: (E, 2) face links; weights: (E,) Potts weights (`border_weights`); blocked: (E,) bool
    links no border moves across (the labels must not straddle them)."""
    labels = np.asarray(labels, dtype=np.int64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n = len(labels)
    if n == 0 or rings <= 0 or labels.max(initial=0) == 0:
        return relabel_by_first_occurrence(labels) if n else labels
    free = pairs if blocked is None else pairs[~np.asarray(blocked, dtype=bool)]
    face, label = band_candidates(free, labels, rings)
    # the cut runs on the band alone: its faces, the links touching them, and the faces at the far
    # end of those links, which keep their labels
    in_band = np.zeros(n, dtype=bool)
    in_band[face] = True
    touching = in_band[pairs[:, 0]] | in_band[pairs[:, 1]]
    sub_pairs = pairs[touching]
    nodes = np.unique(sub_pairs)
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    width = int(labels.max()) + 1
    # own and band labels are distinct (face, label) pairs: one sort of their keys orders them
    keys = np.sort(np.r_[np.arange(len(nodes)) * width + labels[nodes], local[face] * width + label])
    candidates = Candidates(keys // width, keys % width, np.zeros(len(keys)), len(nodes))
    moved = labels.copy()
    moved[nodes] = alpha_expansion(candidates, local[sub_pairs], np.asarray(weights, dtype=np.float64)[touching],
                                   labels[nodes], sweeps, batched=True)
    return connected_face_components(n, pairs, moved[pairs[:, 0]] == moved[pairs[:, 1]])
