"""Face adjacency on triangle meshes, vectorized with numpy / scipy.sparse.

All functions take plain arrays: vertices (V, 3) float, faces (F, 3) int.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def weld_vertices(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Faces re-indexed so that coincident vertices (within `tol`, relative to the bounding-box
    diagonal) share one index. Returns (F, 3) int64; vertex positions are unchanged."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if len(vertices) == 0:
        return np.asarray(faces, dtype=np.int64)
    extent = float(np.ptp(vertices, axis=0).max()) or 1.0
    keys = np.round(vertices / (extent * tol)).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    return inverse.reshape(-1)[np.asarray(faces, dtype=np.int64)]


def face_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges of every face: (3F, 2) sorted vertex pairs and the (3F,) face of each."""
    faces = np.asarray(faces, dtype=np.int64)
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(len(faces)), 3)
    return edges, owner


def face_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of faces sharing an edge: (E, 2) int64 face pairs and (E, 2) int64 shared vertex pairs.

    Non-manifold edges (shared by k > 2 faces) give every pair of their faces."""
    edges, owner = face_edges(faces)
    if len(edges) == 0:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, o = edges[order], owner[order]
    same = np.all(e[1:] == e[:-1], axis=1)
    # group runs of equal edges; pair every face in a run with every later face of the run
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    lengths = np.diff(np.concatenate([starts, [len(e)]]))
    pairs_a, pairs_b, shared = [], [], []
    for k in np.unique(lengths[lengths > 1]):  # loop over run lengths (2, 3, ...), not faces
        s = starts[lengths == k]
        for i in range(k):
            for j in range(i + 1, k):
                pairs_a.append(o[s + i])
                pairs_b.append(o[s + j])
                shared.append(e[s])
    if not pairs_a:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    pairs = np.stack([np.concatenate(pairs_a), np.concatenate(pairs_b)], axis=1)
    keep = pairs[:, 0] != pairs[:, 1]
    return pairs[keep], np.concatenate(shared)[keep]


def connected_face_components(num_faces: int, pairs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(F,) int64 component label per face over adjacency `pairs`; with a boolean `mask` over pairs,
    only the kept pairs connect faces. Labels are 0..C-1 in order of each component's first face."""
    if mask is not None:
        pairs = pairs[mask]
    graph = sp.coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(num_faces, num_faces)
    )
    _, labels = connected_components(graph, directed=False)
    return relabel_by_first_occurrence(labels)


def relabel_by_first_occurrence(labels: np.ndarray) -> np.ndarray:
    """Map labels to 0..K-1 in the order each label first appears (deterministic numbering)."""
    labels = np.asarray(labels)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def weld_vertices_radius(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Like `weld_vertices`, but every pair of vertices closer than `tol` times the bounding-box
    diagonal is joined (transitively), so the result does not depend on where rounding bins fall
    (it is the same before and after scaling / translating the mesh). Returns (F, 3) int64."""
    from scipy.spatial import cKDTree

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(vertices) == 0:
        return faces
    diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0))) or 1.0
    # exact duplicates first (cheap), then join distinct positions closer than the tolerance
    rows = np.ascontiguousarray(vertices + 0.0).view(np.dtype((np.void, 24))).reshape(-1)  # + 0.0: -0 == 0
    _, first, exact = np.unique(rows, return_index=True, return_inverse=True)
    unique = vertices[first]
    pairs = cKDTree(unique, balanced_tree=False, compact_nodes=False).query_pairs(tol * diagonal, output_type="ndarray")
    graph = sp.coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(len(unique),) * 2)
    _, labels = connected_components(graph, directed=False)
    labels = labels[exact.reshape(-1)]
    return labels[faces]


def edge_connected_components(faces: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """(F,) int64 component per face, faces joined when they share an edge and (if (F,) `groups`
    is given) the same group; numbered 0..C-1 by first face. Faster than building face pairs:
    faces are linked through shared edge keys in one bipartite face-edge graph."""
    faces = np.asarray(faces, dtype=np.int64)
    num_faces = len(faces)
    if num_faces == 0:
        return np.zeros(0, np.int64)
    edges, owner = face_edges(faces)
    keys = [edges[:, 0], edges[:, 1]]
    if groups is not None:
        keys.insert(0, np.asarray(groups, np.int64)[owner])
    sizes = [int(k.max()) + 1 for k in keys]
    if np.prod([float(s) for s in sizes]) < 2.0**62:
        packed = keys[0]
        for k, s in zip(keys[1:], sizes[1:]):
            packed = packed * s + k
        _, edge_id = np.unique(packed, return_inverse=True)
    else:
        _, edge_id = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    edge_id = edge_id.reshape(-1)
    n = num_faces + int(edge_id.max()) + 1
    graph = sp.coo_matrix((np.ones(len(owner), np.int8), (owner, num_faces + edge_id)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return relabel_by_first_occurrence(labels[:num_faces])
