"""The dual graph of a triangle mesh with the geometric cues segmentation uses.

Faces are nodes; two faces sharing an edge are linked. Each link carries the shared edge's length
and an angular distance (Katz & Tal 2003): eta * (1 - cos(dihedral)), eta = 1 for concave edges
and `convex_weight` for convex ones, so creases in concave valleys (where parts meet) are far and
convex edges and smooth surface are near.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partverse.geometry.adjacency import face_adjacency, weld_vertices


@dataclass(slots=True, eq=False)
class FaceGraph:
    """pairs: (E, 2) int64 adjacent faces; length: (E,) shared edge length;
    distance: (E,) angular distance in [0, 2]; areas: (F,) face areas; centroids: (F, 3);
    normals: (F, 3) unit normals (zero for degenerate faces)."""

    pairs: np.ndarray
    length: np.ndarray
    distance: np.ndarray
    areas: np.ndarray
    centroids: np.ndarray
    normals: np.ndarray

    @property
    def num_faces(self) -> int:
        return int(len(self.areas))


def face_geometry(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F,) areas, (F, 3) centroids and (F, 3) unit normals (zero rows for zero-area faces)."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return 0.5 * norm, tri.mean(axis=1), normals


def build_face_graph(vertices: np.ndarray, faces: np.ndarray, convex_weight: float = 0.2) -> FaceGraph:
    """Dual graph of (V, 3) vertices / (F, 3) faces; coincident vertices are welded first so that
    seams (UV splits) do not disconnect the surface."""
    faces = np.asarray(faces, dtype=np.int64)
    welded = weld_vertices(vertices, faces)
    areas, centroids, normals = face_geometry(vertices, faces)
    pairs, shared = face_adjacency(welded)
    vertices = np.asarray(vertices, dtype=np.float64)
    # welded indices point at one of the coincident originals; positions are equal, so use any
    position = np.empty((welded.max() + 1 if welded.size else 0, 3))
    position[welded.reshape(-1)] = vertices[faces.reshape(-1)]
    length = np.linalg.norm(position[shared[:, 0]] - position[shared[:, 1]], axis=1)
    na, nb = normals[pairs[:, 0]], normals[pairs[:, 1]]
    cos = np.clip(np.einsum("ij,ij->i", na, nb), -1.0, 1.0)
    offset = centroids[pairs[:, 1]] - centroids[pairs[:, 0]]
    # concave when the neighbour's centroid lies in front of this face's plane
    scale = np.sqrt(areas[pairs].mean(axis=1)) + 1e-30
    concave = np.einsum("ij,ij->i", na, offset) / scale > 1e-6
    eta = np.where(concave, 1.0, convex_weight)
    return FaceGraph(pairs, length, eta * (1.0 - cos), areas, centroids, normals)
