"""Face adjacency on triangle meshes: numpy, compiled loops (`adjacency_kernels`) where a pass over
faces or edges would need many numpy temporaries, and scipy only as a fallback (dense vertex clusters).

All functions take plain arrays: vertices (V, 3) float, faces (F, 3) int.
"""
from __future__ import annotations

import numpy as np

from partverse.geometry.normalize import bounding_box


def _kernels():
    """The compiled kernels (`adjacency_kernels`); numba is imported at the first call, not here."""
    from partverse.geometry import adjacency_kernels

    return adjacency_kernels


def weld_vertices(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Faces re-indexed so that coincident vertices (within `tol`, relative to the bounding-box
    diagonal) share one index. Returns (F, 3) int64; vertex positions are unchanged."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if len(vertices) == 0:
        return np.asarray(faces, dtype=np.int64)
    lo, hi = bounding_box(vertices)
    extent = float((hi - lo).max()) or 1.0
    keys = np.round(vertices / (extent * tol)).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    return inverse.reshape(-1)[np.asarray(faces, dtype=np.int64)]


def face_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges of every face: (3F, 2) sorted vertex pairs and the (3F,) face of each."""
    faces = np.asarray(faces, dtype=np.int64)
    following = faces[:, [1, 2, 0]]
    edges = np.stack([np.minimum(faces, following).reshape(-1), np.maximum(faces, following).reshape(-1)], axis=1)
    owner = np.repeat(np.arange(len(faces)), 3)
    return edges, owner


def face_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of faces sharing an edge: (E, 2) int64 face pairs and (E, 2) int64 shared vertex pairs.

    Non-manifold edges (shared by k > 2 faces) give every pair of their faces. Order: by the number
    of faces on the edge, then by the positions (i < j) of the two faces on it, then by edge."""
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if faces.size == 0:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0:
        raise ValueError(f"face_adjacency: expected (F, 3) non-negative vertex indices, got shape {faces.shape}")
    top = int(faces.max()) + 1
    if top > 4 * faces.size + 1024:  # sparse vertex ids: renumber densely (order-preserving) first
        ids, dense = np.unique(faces, return_inverse=True)
        a, b, shared = _kernels().face_pairs(dense.reshape(faces.shape), len(ids))
        return np.stack([a, b], axis=1), ids[shared]
    a, b, shared = _kernels().face_pairs(faces, top)
    return np.stack([a, b], axis=1), shared


def connected_face_components(num_faces: int, pairs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(F,) int64 component label per face over adjacency `pairs`; with a boolean `mask` over pairs,
    only the kept pairs connect faces. Labels are 0..C-1 in order of each component's first face."""
    if mask is not None:
        pairs = pairs[mask]
    return first_occurrence_rank(union_find(num_faces, pairs[:, 0], pairs[:, 1]))


def relabel_by_first_occurrence(labels: np.ndarray) -> np.ndarray:
    """Map labels to 0..K-1 in the order each label first appears (deterministic numbering)."""
    labels = np.asarray(labels)
    flat = labels.reshape(-1)
    if flat.dtype.kind in "iu" and len(flat):
        low, high = int(flat.min()), int(flat.max())
        if high - low <= 4 * len(flat) + 1024 and high < 2**62:  # a lookup table no larger than a few times the labels
            return _kernels().first_occurrence(flat.astype(np.int64, copy=False), low, high)
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def weld_vertices_radius(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Like `weld_vertices`, but every pair of vertices closer than `tol` times the bounding-box
    diagonal is joined (transitively), so the result does not depend on where rounding bins fall
    (it is the same before and after scaling / translating the mesh). Returns (F, 3) int64 vertex
    ids, equal for welded vertices (not contiguous; vertex positions are unchanged). Costs two sorts
    of V numbers (no k-d tree, no sparse matrix) unless dense clusters need the k-d tree."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(vertices) == 0:
        return faces
    planes = np.ascontiguousarray(vertices.T)  # (3, V): a reduction over (V, 3) rows is ~30x slower
    diagonal = float(np.linalg.norm(planes.max(axis=1) - planes.min(axis=1))) or 1.0
    exact, first = exact_duplicates(vertices)  # exact duplicates first (cheap) ...
    close = close_pairs(vertices[first], tol * diagonal)  # ... then distinct positions within reach
    return union_find(len(first), close[:, 0], close[:, 1])[exact][faces]


_HASH = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def exact_duplicates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bit-identical rows of (N, 3) float64 `points` (with -0.0 == 0.0): (N,) id of every row's
    group, numbered by first row, and (U,) int64 first row of each group. Rows are grouped by a
    64-bit hash (one sort of N integers), and every group is checked row by row; on a hash
    collision between different rows the exact (slower) row sort is used instead."""
    bits = np.ascontiguousarray(np.asarray(points, np.float64).reshape(-1, 3) + 0.0).view(np.uint64)
    n = len(bits)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = bits[:, 0] * _HASH[0] + bits[:, 1] * _HASH[1] + bits[:, 2] * _HASH[2]  # wraps mod 2**64
    order = np.argsort(key)
    starts = np.concatenate([[True], key[order[1:]] != key[order[:-1]]])
    tied = np.flatnonzero(~starts)
    later, earlier = order[tied], order[tied - 1]
    if len(tied) and not all((c[later] == c[earlier]).all() for c in np.ascontiguousarray(bits.T)):  # 1-D gathers
        rows = bits.view(np.dtype((np.void, 24))).reshape(-1)
        _, group = np.unique(rows, return_inverse=True)
        group = group.reshape(-1)
    else:
        group = np.empty(n, np.int64)
        group[order] = np.cumsum(starts) - 1
    first = np.full(int(group.max()) + 1, n)
    np.minimum.at(first, group, np.arange(n))
    rank = np.empty(len(first), np.int64)
    by_first = np.argsort(first)
    rank[by_first] = np.arange(len(first))
    return rank[group], first[by_first]


_SWEEP = np.array([1.0, 0.7548776662466927, 0.5698402909980532])  # a generic direction
MAX_SWEEP_STEPS = 32


def close_pairs(points: np.ndarray, radius: float) -> np.ndarray:
    """(P, 2) int64 index pairs i < j of (N, 3) distinct `points` at distance <= `radius` (the pairs
    `cKDTree.query_pairs` returns, up to order). Points are swept in order of their projection on a
    generic direction: only neighbours in that order whose projections differ by at most the radius
    can be close, and for welding tolerances there are almost none, so this costs one sort. When the
    sweep would need more than MAX_SWEEP_STEPS steps (dense clusters), a k-d tree answers."""
    n = len(points)
    if n < 2 or not radius > 0:
        return np.zeros((0, 2), np.int64)
    projection = points @ _SWEEP
    order = np.argsort(projection)
    p, x = projection[order], points[order]
    reach = radius * float(np.linalg.norm(_SWEEP)) * (1 + 1e-9) + 4 * np.spacing(float(np.abs(p).max()))
    found = []
    candidates = np.flatnonzero(p[1:] - p[:-1] <= reach)  # step 1; later steps keep a subset
    for step in range(1, n):
        if step > 1:
            candidates = candidates[candidates + step < n]
            candidates = candidates[p[candidates + step] - p[candidates] <= reach]
        if not len(candidates):
            break
        if step > MAX_SWEEP_STEPS:
            from scipy.spatial import cKDTree

            return cKDTree(points).query_pairs(radius, output_type="ndarray").astype(np.int64)
        d = x[candidates + step] - x[candidates]
        hit = candidates[np.einsum("ij,ij->i", d, d) <= radius * radius]
        found.append(np.stack([order[hit], order[hit + step]], axis=1))
    if not found:
        return np.zeros((0, 2), np.int64)
    pairs = np.concatenate(found)
    return np.sort(pairs, axis=1)


def find_root(parent: np.ndarray, x: int) -> int:
    """The root of node `x` in the (n,) int `parent` forest (roots are their own parent), halving
    the path on the way: for union-find loops whose joins depend on what was joined before (a
    greedy merge), where `union_find`'s one compiled pass does not apply."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return int(x)


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) int64 connected components of n nodes joined by the (E,) edges a[i]-b[i]: every node's
    label is the smallest node of its component (one compiled pass over the edges)."""
    a = np.ascontiguousarray(a, dtype=np.int64).reshape(-1)
    b = np.ascontiguousarray(b, dtype=np.int64).reshape(-1)
    if len(a) != len(b):
        raise ValueError(f"union_find: {len(a)} edge starts for {len(b)} edge ends")
    if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
        raise ValueError(f"union_find: an edge names a node outside 0..{n - 1}")
    return _kernels().union_find(int(n), a, b)


def first_occurrence_rank(root: np.ndarray) -> np.ndarray:
    """(n,) labels 0..K-1 from (n,) `union_find` roots (each the smallest node of its component),
    numbered in order of each component's first node."""
    is_root = root == np.arange(len(root))
    return (np.cumsum(is_root) - 1)[root]


def edge_connected_components(faces: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """(F,) int64 component per face, faces joined when they share an edge and (if (F,) `groups`
    is given) the same group; numbered 0..C-1 by first face. Edge keys (group, low vertex, high
    vertex) are sorted once; consecutive equal keys join their faces through `union_find`."""
    faces = np.asarray(faces, dtype=np.int64)
    num_faces = len(faces)
    if num_faces == 0:
        return np.zeros(0, np.int64)
    columns = np.ascontiguousarray(faces.T)  # (3, F): edge k of every face is (columns[k], columns[k + 1])
    following = columns[[1, 2, 0]]
    low, high = np.minimum(columns, following), np.maximum(columns, following, out=following)
    size = int(high.max()) + 1
    group = None if groups is None else np.asarray(groups, np.int64)
    span = float(size) * size * (1 if group is None else int(group.max()) + 1)
    if span * 8 * num_faces < 2.0**63:  # key and position packed in one int64: a plain sort
        key = low if group is None else np.add(low, group * size, out=low)
        key *= size
        key += high
        shift = max(1, int(num_faces - 1).bit_length())
        key <<= shift
        key |= np.arange(num_faces)  # key, then owning face
        packed = np.sort(key.reshape(-1))
        same = (packed[1:] >> shift) == (packed[:-1] >> shift)
        owner = packed & ((1 << shift) - 1)
    else:
        keys = [high.reshape(-1), low.reshape(-1)] + ([] if group is None else [np.tile(group, 3)])
        order = np.lexsort(keys)
        sorted_keys = np.stack([k[order] for k in keys], axis=1)
        same = (sorted_keys[1:] == sorted_keys[:-1]).all(axis=1)
        owner = order % num_faces
    joined = np.flatnonzero(same)
    root = union_find(num_faces, owner[joined], owner[joined + 1])
    return first_occurrence_rank(root)
