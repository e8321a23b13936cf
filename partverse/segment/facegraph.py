"""The dual graph of a triangle mesh with the geometric cues segmentation uses.

Faces are nodes; two faces sharing an edge are linked. Each link carries the shared edge's length,
an angular distance (Katz & Tal 2003): eta * (1 - cos(dihedral)), and the bend: eta * dihedral
(the angle between the two face normals, in radians); eta = 1 for concave edges and
`convex_weight` for convex ones, so creases in concave valleys (where parts meet) are far and
convex edges and smooth surface are near. The two differ on rounded creases: a 90 degree bend
spread over a fillet of n edges has n bends summing to pi / 2, as one sharp edge has, while
1 - cos (about dihedral^2 / 2 per edge) sums to about n times less than the sharp edge's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from partverse.geometry.adjacency import face_adjacency, weld_vertices
from partverse.geometry.normalize import bounding_box

_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


@dataclass(slots=True, eq=False)
class FaceGraph:
    """pairs: (E, 2) int64 adjacent faces; length: (E,) shared edge length;
    distance: (E,) angular distance in [0, 2]; bend: (E,) weighted dihedral angle in [0, pi];
    areas: (F,) face areas; centroids: (F, 3); normals: (F, 3) unit normals (zero for degenerate
    faces)."""

    pairs: np.ndarray
    length: np.ndarray
    distance: np.ndarray
    bend: np.ndarray
    areas: np.ndarray
    centroids: np.ndarray
    normals: np.ndarray
    _adjacency: sp.csr_matrix | None = field(default=None, repr=False)

    @property
    def num_faces(self) -> int:
        return int(len(self.areas))

    def adjacency(self) -> sp.csr_matrix:
        """(F, F) symmetric 0/1 CSR matrix of the links (built once per graph)."""
        if self._adjacency is None:
            self._adjacency = link_matrix(self.num_faces, self.pairs, np.ones(len(self.pairs)))
        return self._adjacency


def link_matrix(num_faces: int, pairs: np.ndarray, value: np.ndarray) -> sp.csr_matrix:
    """(F, F) symmetric CSR matrix with (E,) `value` at both (p, q) and (q, p) of every (E, 2) link
    (repeated links summed): scipy's canonical CSR of those entries, built in one compiled pass."""
    from partverse.geometry.adjacency_kernels import symmetric_csr

    p, value = np.asarray(pairs, dtype=np.int64), np.ascontiguousarray(value, dtype=np.float64)
    indptr, indices, data = symmetric_csr(int(num_faces), np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]),
                                          value)
    if len(data) < 2**31:  # the index width scipy itself picks (its solvers take int32 as is)
        indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(num_faces, num_faces))
    matrix.has_sorted_indices = True
    return matrix


def face_geometry(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F,) areas, (F, 3) centroids and (F, 3) unit normals (zero rows for zero-area faces), from
    one compiled pass over the faces (`facegraph_kernels`)."""
    from partverse.segment.facegraph_kernels import kernels

    faces = np.ascontiguousarray(faces, dtype=np.int64)
    n = len(faces)
    areas, centroids, normals = np.empty(n), np.empty((n, 3)), np.empty((n, 3))
    kernels().face_geometry(np.ascontiguousarray(vertices, dtype=np.float64), faces, areas, centroids, normals)
    return areas, centroids, normals


def weld_fast(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Same result as `geometry.adjacency.weld_vertices` (coincident vertices within `tol` of the
    largest extent share one index; (F, 3) int64), faster: the three rounded coordinates are hashed
    to one int64 and sorted once; if two different positions ever share a hash, the exact
    (slower) routine runs instead. Coordinates are handled as three contiguous (V,) planes (a pass
    over (V, 3) rows is several times slower), and the sort need not be stable: a vertex's group
    number is the rank of its hash, whichever order equal hashes come in."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(vertices) == 0:
        return faces
    lo, hi = bounding_box(vertices)
    extent = float((hi - lo).max()) or 1.0
    keys = np.round(np.ascontiguousarray(vertices.T) / (extent * tol)).astype(np.int64)  # (3, V)
    bits = keys.view(np.uint64)
    with np.errstate(over="ignore"):
        hashed = bits[0] * _MIX[0] + bits[1] * _MIX[1] + bits[2] * _MIX[2]  # wraps mod 2**64
    order = np.argsort(hashed)
    sorted_hash = hashed[order]
    new = np.empty(len(order), bool)
    new[0] = True
    np.not_equal(sorted_hash[1:], sorted_hash[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    first = order[new][group]  # one vertex of each vertex's hash group
    if not all(np.array_equal(plane[first], plane[order]) for plane in keys):
        return weld_vertices(vertices, faces, tol)  # a hash collision: use the exact routine
    inverse = np.empty(len(order), np.int64)
    inverse[order] = group
    return inverse[faces]


def build_face_graph(vertices: np.ndarray, faces: np.ndarray, convex_weight: float = 0.2,
                     geometry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                     welded: np.ndarray | None = None) -> FaceGraph:
    """Dual graph of (V, 3) vertices / (F, 3) faces; coincident vertices are welded first so that
    seams (UV splits) do not disconnect the surface. The link cues come from `facegraph_kernels`
    (the definitions in the module docstring, one compiled pass over the links). `geometry`:
    `face_geometry(vertices, faces)` if the caller has it already; `welded`: (F, 3) vertex ids
    already welded by the caller (e.g. `artist.artist_pieces`', so that both see the same
    connectivity), else `weld_fast`."""
    from partverse.segment.facegraph_kernels import kernels

    faces = np.ascontiguousarray(faces, dtype=np.int64)
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    welded = np.ascontiguousarray(weld_fast(vertices, faces) if welded is None else welded, dtype=np.int64)
    if welded.shape != faces.shape:
        raise ValueError(f"build_face_graph: welded faces {welded.shape} do not match the faces {faces.shape}")
    areas, centroids, normals = face_geometry(vertices, faces) if geometry is None else geometry
    pairs, shared = face_adjacency(welded)
    position = kernels().welded_positions(welded, faces, vertices, int(welded.max()) + 1 if welded.size else 0)
    length, distance, bend = np.empty(len(pairs)), np.empty(len(pairs)), np.empty(len(pairs))
    kernels().link_cues(pairs, shared, position, areas, centroids, normals, float(convex_weight), length, distance, bend)
    return FaceGraph(pairs, length, distance, bend, areas, centroids, normals)
