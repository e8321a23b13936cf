"""Mesh statistics used by filters and reports."""
from __future__ import annotations

import numpy as np

from partverse.geometry.adjacency import connected_face_components, face_adjacency, face_edges, weld_vertices_radius
from partverse.geometry.normalize import bounding_box
from partverse.geometry.sampling import face_areas_normals
from partverse.records import Mesh

DEGENERATE_AREA = 1e-12  # relative to the squared bounding-box diagonal


def edge_counts(faces: np.ndarray) -> np.ndarray:
    """(E,) number of faces on each distinct undirected edge of (F, 3) `faces`."""
    edges, _ = face_edges(faces)
    if len(edges) == 0:
        return np.zeros(0, np.int64)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return counts


def mesh_stats(mesh: Mesh) -> dict:
    """Plain-number statistics of `mesh` (coincident vertices welded for topology counts):
    faces, vertices, components, artist_parts, materials, area, bbox_extent (3 floats),
    degenerate_faces, non_manifold_edges, boundary_edges, textured, warnings."""
    welded = weld_vertices_radius(mesh.vertices, mesh.faces)
    areas, _ = face_areas_normals(mesh.vertices, mesh.faces)
    lo, hi = bounding_box(mesh.vertices) if mesh.num_vertices else (np.zeros(3), np.zeros(3))
    extent = hi - lo
    diag2 = float(np.dot(extent, extent)) or 1.0
    pairs, _ = face_adjacency(welded)
    counts = edge_counts(welded)
    components = connected_face_components(mesh.num_faces, pairs)
    return {
        "faces": mesh.num_faces,
        "vertices": mesh.num_vertices,
        "components": int(components.max() + 1) if mesh.num_faces else 0,
        "artist_parts": len(mesh.artist_parts),
        "materials": len(mesh.materials),
        "area": float(areas.sum()),
        "bbox_extent": [float(x) for x in extent],
        "degenerate_faces": int((areas <= DEGENERATE_AREA * diag2).sum()),
        "non_manifold_edges": int((counts > 2).sum()),
        "boundary_edges": int((counts == 1).sum()),
        "textured": bool(mesh.textured),
        "warnings": len(mesh.warnings),
    }
