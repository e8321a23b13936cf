"""Samesh's optional repartition: the lifted labelling cleaned by a multi-label graph cut.

Over the face graph (`partverse.segment.facegraph.FaceGraph`), with `graphcut.alpha_expansion`:
- labels of the cut: the clusters of linked SAM-2 masks (each smoothed piece takes the cluster
  most of its faces voted for before smoothing), plus one label per piece no view saw; cutting
  clusters rather than pieces keeps the number of moves (one per label) small;
- candidates of a face: its own label, its neighbours' labels and every cluster that got pixel
  votes on it (so a boundary can move by more than one ring of faces per sweep);
- unary cost of a cluster on a face: -log(share of the face's pixel votes that went to it),
  floored at `VOTE_FLOOR` (also the cost of unseen-piece labels), times face area / mean face
  area; faces no view saw cost nothing for any candidate (their neighbours decide);
- Potts pair weight: `smoothness` x shared-edge length / mean length x -log(angle / pi), angle
  = arccos(1 - angular distance) where the angular distance already down-weights convex edges
  (`facegraph`), floored at `ANGLE_FLOOR` pi: cutting across a flat surface costs most, along
  a concave crease least (Samesh: -log(dihedral / pi) x lambda).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from partverse.segment.graphcut import Candidates, alpha_expansion
from partverse.segment.lift import row_argmax

VOTE_FLOOR = 0.01
ANGLE_FLOOR = 0.01


def label_clusters(labels: np.ndarray, face_cluster: np.ndarray) -> np.ndarray:
    """(K,) int64: for labels 0..K-1 (F,), the cluster (F,) face_cluster most of its faces had
    (-1 when none of them had one)."""
    k = int(labels.max()) + 1
    voted = face_cluster >= 0
    if not voted.any():
        return np.full(k, -1, dtype=np.int64)
    counts = sp.coo_matrix((np.ones(voted.sum()), (labels[voted], face_cluster[voted])), shape=(k, int(face_cluster.max()) + 1)).tocsr()
    best, has = row_argmax(counts)
    return np.where(has, best, -1).astype(np.int64)


def cut_labels(labels: np.ndarray, face_cluster: np.ndarray, num_clusters: int) -> np.ndarray:
    """(F,) int64 labels of the cut: a label's cluster id, or num_clusters + i for the i-th label
    no face of which had a cluster (pieces no view saw)."""
    of = label_clusters(labels, face_cluster)
    orphan = of < 0
    of[orphan] = num_clusters + np.arange(orphan.sum())
    return of[labels]


def vote_candidates(start: np.ndarray, cluster_votes: sp.csr_matrix, pairs: np.ndarray, areas: np.ndarray) -> Candidates:
    """Candidates and unary costs (module docstring) for the cut labels `start` (F,) int
    (`cut_labels`); cluster_votes: (F, C) pixel votes; pairs: (E, 2); areas: (F,)."""
    n = len(start)
    total = np.asarray(cluster_votes.sum(axis=1)).ravel()
    share = (sp.diags(1.0 / np.maximum(total, 1e-300)) @ cluster_votes).tocoo()
    face = np.r_[share.row, np.arange(n), pairs[:, 0], pairs[:, 1]].astype(np.int64)
    label = np.r_[share.col, start, start[pairs[:, 1]], start[pairs[:, 0]]].astype(np.int64)
    width = int(max(label.max(initial=0), cluster_votes.shape[1])) + 1
    keys = share.row.astype(np.int64) * width + share.col
    order = np.argsort(keys)
    keys, values = keys[order], share.data[order]
    query = face * width + label
    at = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    found = (keys[at] == query) if len(keys) else np.zeros(len(query), bool)
    p = np.where(found, values[at] if len(keys) else 0.0, 0.0)
    cost = np.where(total[face] > 0, -np.log(np.clip(p, VOTE_FLOOR, 1.0)), 0.0)
    scale = areas / max(float(areas.mean()), 1e-300)
    return Candidates.build(face, label, cost * scale[face], n)


def crease_weights(graph, smoothness: float) -> np.ndarray:
    """(E,) Potts weights of `graph.pairs` (module docstring)."""
    angle = np.arccos(np.clip(1.0 - graph.distance, -1.0, 1.0))
    length = graph.length / max(float(graph.length.mean()), 1e-300) if len(graph.length) else graph.length
    return smoothness * length * -np.log(np.clip(angle / np.pi, ANGLE_FLOOR, 1.0))


def repartition(labels: np.ndarray, face_cluster: np.ndarray, cluster_votes: sp.csr_matrix, graph,
                smoothness: float = 1.0, max_sweeps: int = 4) -> np.ndarray:
    """(F,) int64 cut labels (`cut_labels` numbering: clusters, then unseen pieces) after
    alpha-expansion; callers split them into connected pieces. labels: (F,) smoothed labels;
    face_cluster: (F,) cluster per face before smoothing (-1 none); cluster_votes: (F, C);
    graph: the mesh's `FaceGraph`."""
    start = cut_labels(np.asarray(labels, dtype=np.int64), np.asarray(face_cluster, dtype=np.int64), cluster_votes.shape[1])
    candidates = vote_candidates(start, cluster_votes, graph.pairs, graph.areas)
    return alpha_expansion(candidates, graph.pairs, crease_weights(graph, smoothness), start, max_sweeps)
