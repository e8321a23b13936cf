"""The per-face and per-link cues of the dual graph as compiled loops (numba).

numpy needed a dozen passes over (F, 3) and (E, 3) temporaries (gathers, crosses, norms, dot
products); each loop here reads a face's or a link's few numbers once. The arithmetic follows
numpy's order (x * x + y * y + z * z, then sqrt; (a + b + c) / 3), so the cues are the same
numbers `facegraph` computed with numpy. Compiled on first use and cached on disk.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace


@functools.cache
def kernels() -> SimpleNamespace:
    """The compiled kernels `face_geometry`, `link_cues` and `welded_positions` (see their docstrings)."""
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def face_geometry(vertices, faces, areas, centroids, normals):
        """(V, 3) float64 vertices, (F, 3) int64 faces -> areas (F,), centroids (F, 3), unit
        normals (F, 3) (zero for zero-area faces)."""
        for f in range(faces.shape[0]):
            a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
            ux, uy, uz = vertices[b, 0] - vertices[a, 0], vertices[b, 1] - vertices[a, 1], vertices[b, 2] - vertices[a, 2]
            vx, vy, vz = vertices[c, 0] - vertices[a, 0], vertices[c, 1] - vertices[a, 1], vertices[c, 2] - vertices[a, 2]
            cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
            norm = np.sqrt(cx * cx + cy * cy + cz * cz)
            areas[f] = 0.5 * norm
            for k in range(3):
                centroids[f, k] = (vertices[a, k] + vertices[b, k] + vertices[c, k]) / 3.0
            if norm > 0:
                normals[f, 0], normals[f, 1], normals[f, 2] = cx / norm, cy / norm, cz / norm
            else:
                normals[f, 0], normals[f, 1], normals[f, 2] = 0.0, 0.0, 0.0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def link_cues(pairs, shared, position, areas, centroids, normals, convex_weight, length, distance, bend):
        """Per link (E, 2) face pairs / (E, 2) shared vertex pairs: the shared edge's length, the
        angular distance eta * (1 - cos dihedral) and the bend eta * arccos(cos dihedral), eta = 1
        when concave else convex_weight."""
        for e in range(pairs.shape[0]):
            p, q = pairs[e, 0], pairs[e, 1]
            s, t = shared[e, 0], shared[e, 1]
            dx, dy, dz = position[s, 0] - position[t, 0], position[s, 1] - position[t, 1], position[s, 2] - position[t, 2]
            length[e] = np.sqrt(dx * dx + dy * dy + dz * dz)
            cos = normals[p, 0] * normals[q, 0] + normals[p, 1] * normals[q, 1] + normals[p, 2] * normals[q, 2]
            cos = min(max(cos, -1.0), 1.0)
            ox, oy, oz = centroids[q, 0] - centroids[p, 0], centroids[q, 1] - centroids[p, 1], centroids[q, 2] - centroids[p, 2]
            scale = np.sqrt((areas[p] + areas[q]) / 2.0) + 1e-30
            # concave when the neighbour's centroid lies in front of this face's plane
            front = (normals[p, 0] * ox + normals[p, 1] * oy + normals[p, 2] * oz) / scale
            eta = 1.0 if front > 1e-6 else convex_weight
            distance[e] = eta * (1.0 - cos)
            bend[e] = eta * np.arccos(cos)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def welded_positions(welded, faces, vertices, count):
        """(count, 3) position of every welded vertex id: the original vertex of its last corner in
        face order (the row numpy's `position[welded] = vertices[faces]` leaves; welded
        vertices coincide, so any would do)."""
        position = np.empty((count, 3))
        for f in range(faces.shape[0]):
            for k in range(3):
                w, v = welded[f, k], faces[f, k]
                position[w, 0], position[w, 1], position[w, 2] = vertices[v, 0], vertices[v, 1], vertices[v, 2]
        return position

    return SimpleNamespace(face_geometry=face_geometry, link_cues=link_cues, welded_positions=welded_positions)
