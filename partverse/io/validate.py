"""Checks every loaded Mesh passes, whatever its format: refuse what is wrong, warn on what is harmless."""
from __future__ import annotations

import numpy as np

from partverse.errors import MeshLoadError
from partverse.records import Mesh


def validate_mesh(mesh: Mesh, path: object) -> Mesh:
    """Raise MeshLoadError for empty, non-finite or out-of-range geometry; append warnings to
    `mesh.warnings` for degenerate faces and unused vertices. Returns the same mesh."""
    if mesh.num_faces == 0:
        raise MeshLoadError(path, "no triangle faces in the file")
    if mesh.faces.ndim != 2 or mesh.faces.shape[1] != 3:
        raise MeshLoadError(path, f"faces have shape {mesh.faces.shape}, expected (F, 3)")
    finite = np.isfinite(mesh.vertices).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise MeshLoadError(path, f"non-finite vertex {bad}: {mesh.vertices[bad].tolist()} ({int((~finite).sum())} such vertices)")
    if mesh.faces.min() < 0 or mesh.faces.max() >= mesh.num_vertices:
        bad = int(mesh.faces.max() if mesh.faces.max() >= mesh.num_vertices else mesh.faces.min())
        raise MeshLoadError(path, f"face index {bad} out of range for {mesh.num_vertices} vertices")
    repeated = (mesh.faces[:, 0] == mesh.faces[:, 1]) | (mesh.faces[:, 1] == mesh.faces[:, 2]) | (mesh.faces[:, 0] == mesh.faces[:, 2])
    if repeated.any():
        mesh.warnings.append(f"{int(repeated.sum())} degenerate faces repeat a vertex index (kept)")
    if mesh.uv is not None and not np.isfinite(mesh.uv).all():
        mesh.warnings.append("non-finite texture coordinates replaced by 0")
        mesh.uv = np.nan_to_num(mesh.uv, nan=0.0, posinf=0.0, neginf=0.0)
    return mesh
