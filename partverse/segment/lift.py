"""Lifting per-view 2D mask labels to mesh faces (the Samesh method), vectorized.

Inputs per view: a face-id buffer (H, W) int (-1 = background) and a mask-label image (H, W) int
(-1 = no mask). Steps:
1. votes: for every (view, face, mask) the pixel count; a face joins the mask it covers most in that
   view, if it covers at least `min_face_pixels` pixels of it;
2. links: two view-masks are linked when they share at least `min_shared_faces` faces (or all of
   the smaller one's) and at least `link_ratio` of the smaller one's faces; a mask linked to two
   or more masks of one other view spans several parts and is dropped (over-linked);
3. clusters: connected components of the links (deterministic; no random prompts anywhere); then
   clusters that no view shows together and that share at least `join_ratio` of the smaller one's
   faces are joined, most shared first, while the joined groups still share no view: one part
   seen from sides far apart (a view has one mask per part; two parts show up side by side);
4. face labels: pixel votes summed per cluster, argmax per face (-1 when no view saw the face);
5. on the mesh: pieces of a label smaller than `min_piece_fraction` of that label's largest piece
   are dropped, unlabelled faces take their neighbours' majority (`fill_rounds` rounds), what
   remains unlabelled becomes one label per connected piece, and every label is split into
   connected pieces;
6. optional (`graph_cut`: off in `LiftConfig()`, which needs no face graph; on in the Samesh
   method's `samesh.SAMESH_LIFT`): Samesh's repartition, an alpha-expansion graph cut of
   the labels with unary costs from the clusters' pixel votes and crease-weighted Potts pairs
   (`partverse.segment.repartition`), then the split into connected pieces again.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from partverse.errors import ConfigError, PartverseError
from partverse.geometry.adjacency import connected_face_components, find_root, relabel_by_first_occurrence


# Two views of one large part share only part of its faces (the truck's body: 0.25-0.63 of the
# smaller mask), so at 0.5 its masks fell into several clusters and the body into a patchwork.
# Measured (`SAMESH_LIFT`, 12 views at 256 px; 8 shared assets with masks = their artist parts and
# the 19 PSB models with masks = a human segmentation, then the same human made noisy as in
# `benchmarks/samesh_postprocess.py`; scored against that human):
#   link_ratio        0.2     0.3     0.35    0.4     0.45    0.5
#   exact masks: segments / true pieces
#                     1.04    1.08    1.14    1.18    1.40    1.61
#   noisy: segments / human, ASA
#                     1.86    1.90    2.14    2.43    3.26    3.94
#                     0.944   0.955   0.973   0.981   0.983   0.986
# 0.4 is the knee: below it noisy masks of different parts link (the expensive error, a split for
# the annotator); above it the same part stays in pieces (merges: cheap, but 60% more of them).
# Then joining the clusters never seen together (`join_ratio`), same cases:
#   join_ratio        none    0.4     0.2
#   exact: segments / true pieces (exact cases of 27)
#                     1.18 (7)  1.06 (10)  1.03 (13)
#   noisy: segments / human, RI error, ASA
#                     2.43, 0.084, 0.9805   2.14, 0.073, 0.9807   1.64, 0.037, 0.9809
# (exact masks: every case at least as good, but one asset with pieces hidden inside others,
# kaykit_knight, ASA 0.952 -> 0.944).
LINK_RATIO = 0.4
JOIN_RATIO = 0.2


@dataclass(slots=True, frozen=True)
class LiftConfig:
    min_face_pixels: int = 1
    min_shared_faces: int = 8
    link_ratio: float = LINK_RATIO
    join_ratio: float | None = JOIN_RATIO
    min_piece_fraction: float = 0.025
    fill_rounds: int = 64
    graph_cut: bool = False
    smoothness: float = 1.0
    graph_cut_sweeps: int = 4

    def __post_init__(self):
        if not isinstance(self.graph_cut, bool):
            raise ConfigError(f"graph_cut = {self.graph_cut!r}: must be True or False")
        if not (isinstance(self.smoothness, (int, float)) and np.isfinite(self.smoothness) and self.smoothness >= 0):
            raise ConfigError(f"smoothness = {self.smoothness!r}: must be a finite number >= 0")
        for name in ("min_face_pixels", "min_shared_faces", "fill_rounds", "graph_cut_sweeps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} = {value!r}: must be an integer >= 0")
        for name in ("link_ratio", "min_piece_fraction", "join_ratio"):
            value = getattr(self, name)
            if name == "join_ratio" and value is None:  # no joining
                continue
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ConfigError(f"{name} = {value!r}: must be in [0, 1]" + (" or None" if name == "join_ratio" else ""))


def view_votes(face_ids: np.ndarray, mask_labels: np.ndarray, num_faces: int, min_face_pixels: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """(F, L) pixel votes of faces for the L = sum over views of (max label + 1) view-masks; each
    face keeps only its best mask per view, and only with >= min_face_pixels pixels.
    face_ids, mask_labels: (N, H, W) int; raises when a face id is outside [-1, num_faces)."""
    face_ids = np.asarray(face_ids, dtype=np.int64)
    mask_labels = np.asarray(mask_labels, dtype=np.int64)
    if face_ids.shape != mask_labels.shape or face_ids.ndim != 3:
        raise PartverseError(f"lift: face-id buffers {face_ids.shape} and mask labels {mask_labels.shape} must be equal (N, H, W)")
    if len(face_ids) == 0:
        raise PartverseError("lift: no views (face-id buffers of shape (0, H, W))")
    if face_ids.size and (face_ids.min() < -1 or face_ids.max() >= num_faces):
        raise PartverseError(f"lift: face ids span [{face_ids.min()}, {face_ids.max()}], outside [-1, {num_faces}) for a {num_faces}-face mesh")
    from partverse.segment.lift_kernels import best_mask_votes

    per_view = mask_labels.reshape(len(mask_labels), -1).max(axis=1) + 1
    if per_view.max() > mask_labels[0].size:  # sparse ids (e.g. instance ids): one column per id used
        mask_labels = np.stack([_compact(m) for m in mask_labels])  # loop over views
        per_view = mask_labels.reshape(len(mask_labels), -1).max(axis=1) + 1
    offset = np.concatenate([[0], np.cumsum(per_view)]).astype(np.int64)
    total = int(offset[-1])
    # one compiled pass over each view's pixels (`lift_kernels`), no sort of the (face, mask) pairs
    face, column, pixels = best_mask_votes(face_ids.reshape(len(face_ids), -1), mask_labels.reshape(len(mask_labels), -1),
                                           offset, int(num_faces), max(int(min_face_pixels), 1))
    mask_view = np.repeat(np.arange(len(per_view)), per_view)
    if len(mask_view) == 0:
        mask_view = np.zeros(1, dtype=np.int64)
    votes = sp.coo_matrix((pixels.astype(np.float64), (face, column)), shape=(num_faces, max(total, 1)))
    return votes.tocsr(), mask_view  # no repeated (face, column): one per face and view


def _compact(labels: np.ndarray) -> np.ndarray:
    """The ids >= 0 of one view renumbered 0..M-1 in increasing order; the rest -1."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    valid = labels >= 0
    out[valid] = np.unique(labels[valid], return_inverse=True)[1].reshape(-1)
    return out


def link_masks(votes: sp.csr_matrix, mask_view: np.ndarray, config: LiftConfig) -> np.ndarray:
    """(L,) cluster id per view-mask, -1 for masks no face joined and for over-linked masks (linked
    to two or more masks of one other view: they span several parts). Clusters are connected
    components of the remaining links. mask_view: (L,) view index of each mask."""
    member = (votes > 0).astype(np.float64)
    size = np.asarray(member.sum(axis=0)).ravel()
    shared = (member.T @ member).tocoo()
    off = shared.row != shared.col
    row, col, count = shared.row[off], shared.col[off], shared.data[off]
    smaller = np.minimum(size[row], size[col])
    # at least min_shared_faces shared faces, or all of a smaller mask's (masks of small parts)
    keep = (count >= np.minimum(config.min_shared_faces, smaller)) & (count >= config.link_ratio * smaller)
    row, col = row[keep], col[keep]
    n = len(size)
    per_view = np.unique(row * (mask_view.max() + 1) + mask_view[col], return_counts=True)
    over = np.zeros(n, dtype=bool)
    over[per_view[0][per_view[1] >= 2] // (mask_view.max() + 1)] = True
    good = ~over[row] & ~over[col]
    graph = sp.coo_matrix((np.ones(good.sum()), (row[good], col[good])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    return _dense(np.where((size > 0) & ~over, component, -1))


def join_unseen_together(cluster: np.ndarray, mask_view: np.ndarray, votes: sp.csr_matrix, ratio: float) -> np.ndarray:
    """(L,) cluster ids after joining clusters that no view shows together and that share at
    least `ratio` of the smaller one's faces (faces any of its masks holds), most shared first
    (then lowest ids), a join refused once the two groups have a view in common."""
    used = cluster >= 0
    if not used.any():
        return cluster
    k = int(cluster.max()) + 1
    faces = (cluster_votes(votes, cluster) > 0).astype(np.float64).tocsc()
    size = np.asarray(faces.sum(axis=0)).ravel()
    shared = (faces.T @ faces).tocoo()
    upper = shared.row < shared.col
    row, col, count = shared.row[upper], shared.col[upper], shared.data[upper]
    fraction = count / np.maximum(np.minimum(size[row], size[col]), 1.0)
    seen = np.zeros((k, int(mask_view.max()) + 1), dtype=bool)
    seen[cluster[used], mask_view[used]] = True
    candidate = (fraction >= ratio) & ~(seen[row] & seen[col]).any(axis=1)
    row, col, fraction = row[candidate], col[candidate], fraction[candidate]
    parent = np.arange(k)
    for i in np.lexsort((col, row, -fraction)).tolist():  # loop over candidate cluster pairs
        a, b = sorted((find_root(parent, int(row[i])), find_root(parent, int(col[i]))))
        if a != b and not (seen[a] & seen[b]).any():
            parent[b] = a
            seen[a] |= seen[b]
    roots = np.array([find_root(parent, c) for c in range(k)])  # loop over clusters
    return _dense(np.where(used, roots[np.maximum(cluster, 0)], -1))


def _dense(labels: np.ndarray) -> np.ndarray:
    """Labels >= 0 renumbered 0..K-1 by first occurrence; -1 kept."""
    out = np.full(len(labels), -1, dtype=np.int64)
    valid = labels >= 0
    if valid.any():
        out[valid] = relabel_by_first_occurrence(labels[valid])
    return out


def cluster_votes(votes: sp.csr_matrix, cluster: np.ndarray) -> sp.csr_matrix:
    """(F, C) pixel votes per cluster from (F, L) votes per view-mask and (L,) cluster ids."""
    used = cluster >= 0
    k = int(cluster.max()) + 1 if used.any() else 0
    membership = sp.coo_matrix((np.ones(used.sum()), (np.flatnonzero(used), cluster[used])), shape=(len(cluster), k)).tocsr()
    return (votes @ membership).tocsr()


def face_labels_from_votes(votes: sp.csr_matrix, cluster: np.ndarray) -> np.ndarray:
    """(F,) int64: the cluster with the most pixel votes per face, -1 for faces with none."""
    return _argmax_votes(cluster_votes(votes, cluster))


def _argmax_votes(per_cluster: sp.csr_matrix) -> np.ndarray:
    best, has = row_argmax(per_cluster)
    return np.where(has, best, -1).astype(np.int64)


def row_argmax(matrix: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Per row of an (R, C) sparse matrix of values >= 0: the column of its largest entry (lowest
    column on ties) and whether the row has a positive entry; (R,) int64, (R,) bool. One compiled
    pass over the CSR rows (`lift_kernels`)."""
    from partverse.segment.lift_kernels import csr_row_argmax

    csr = matrix.tocsr()
    return csr_row_argmax(csr.indptr, csr.indices, np.ascontiguousarray(csr.data, dtype=np.float64))


def smooth_labels(labels: np.ndarray, pairs: np.ndarray, areas: np.ndarray, config: LiftConfig) -> np.ndarray:
    """(F,) int64 labels 0..K-1, every label one connected piece, no face unlabelled (step 5)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = len(labels)
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    piece = connected_face_components(n, pairs, same)
    piece_area = np.bincount(piece, weights=areas, minlength=piece.max() + 1)
    piece_count = np.bincount(piece)
    piece_label = np.full(len(piece_area), -1)
    piece_label[piece] = labels
    best_area = np.zeros(labels.max() + 2)
    best_count = np.zeros(labels.max() + 2)
    np.maximum.at(best_area, piece_label + 1, piece_area)
    np.maximum.at(best_count, piece_label + 1, piece_count)
    small = (piece_area < config.min_piece_fraction * best_area[piece_label + 1]) & (
        piece_count < config.min_piece_fraction * best_count[piece_label + 1])
    labels[small[piece]] = -1
    labels = _fill_unlabelled(labels, pairs, config.fill_rounds)
    missing = labels < 0
    if missing.any():  # pieces no view labelled: one label each
        labels[missing] = labels.max() + 1 + connected_face_components(n, pairs, missing[pairs].all(axis=1))[missing]
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    return connected_face_components(n, pairs, same)


def _fill_unlabelled(labels: np.ndarray, pairs: np.ndarray, rounds: int) -> np.ndarray:
    """Unlabelled faces take the most common label among labelled neighbours, round by round."""
    n = len(labels)
    adjacency = sp.coo_matrix((np.ones(2 * len(pairs)), (np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]])), shape=(n, n)).tocsr()
    for _ in range(rounds):  # rounds of a vectorized sweep, not a loop over faces
        missing = labels < 0
        if not missing.any():
            break
        known = np.flatnonzero(~missing)
        if len(known) == 0:
            break
        onehot = sp.csr_matrix((np.ones(len(known)), (known, labels[known])), shape=(n, labels.max() + 1))
        counts = adjacency[missing] @ onehot
        best, has = row_argmax(counts)
        if not has.any():
            break
        targets = np.flatnonzero(missing)
        labels[targets[has]] = best[has]
    return labels


def lift_masks(face_ids: np.ndarray, mask_labels: np.ndarray, pairs: np.ndarray, areas: np.ndarray,
               config: LiftConfig = LiftConfig(), graph=None, seconds: dict | None = None) -> np.ndarray:
    """(F,) int64 face labels 0..K-1 from N views: face_ids / mask_labels (N, H, W) int,
    pairs (E, 2) face adjacency, areas (F,); graph: the mesh's `FaceGraph`, needed with
    `config.graph_cut`. `seconds`, when given, receives each step's wall time ("votes_links_clusters",
    "smooth", "graph_cut", "relabel")."""
    import time

    timings = {} if seconds is None else seconds
    last = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[step] = timings.get(step, 0.0) + now - last
        last = now

    votes, mask_view = view_votes(face_ids, mask_labels, len(areas), config.min_face_pixels)
    cluster = link_masks(votes, mask_view, config)
    if config.join_ratio is not None:
        cluster = join_unseen_together(cluster, mask_view, votes, config.join_ratio)
    per_cluster = cluster_votes(votes, cluster)
    raw = _argmax_votes(per_cluster)
    lap("votes_links_clusters")
    labels = smooth_labels(raw, pairs, areas, config)
    lap("smooth")
    if config.graph_cut and per_cluster.shape[1] > 0:
        from partverse.segment.repartition import repartition

        if graph is None or graph.num_faces != len(areas):
            raise PartverseError(f"lift: graph_cut needs the {len(areas)}-face mesh's FaceGraph (graph=...)")
        labels = repartition(labels, raw, per_cluster, graph, config.smoothness, config.graph_cut_sweeps)
        labels = connected_face_components(len(labels), pairs, labels[pairs[:, 0]] == labels[pairs[:, 1]])
    lap("graph_cut")
    labels = relabel_by_first_occurrence(labels)
    lap("relabel")
    return labels
