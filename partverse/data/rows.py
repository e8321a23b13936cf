"""Release rows from a mesh and per-face labels: one object row and one row per part.

Used by `import partverse-layout`, by tests and by the benchmark to build releases from real
assets without the full pipeline. Surface samples are area-weighted and seeded by (uid, part_id),
so the same input gives the same rows.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from partverse.data.schema import NUM_SAMPLES


def part_seed(uid: str, part_id: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{uid}/{part_id}".encode()).digest()[:8], "little")


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted surface samples seeded by `seed` (`geometry.sampling.sample_surface_iid` on
    `default_rng(seed)`). vertices: (V, 3) float; faces: (F, 3) int -> points (count, 3) float32,
    normals (count, 3) float32; zeros when there are no faces."""
    from partverse.geometry.sampling import sample_surface_iid

    if len(faces) == 0:
        return np.zeros((count, 3), np.float32), np.zeros((count, 3), np.float32)
    return sample_surface_iid(vertices, faces, count, np.random.default_rng(seed))


def mesh_glb(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """An untextured GLB of (V, 3) vertices and (F, 3) faces."""
    import trimesh

    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False).export(file_type="glb")


def object_rows(
    uid: str,
    vertices: np.ndarray,
    faces: np.ndarray,
    face_labels: np.ndarray,
    *,
    license: str | None = None,
    source: str = "local",
    source_uri: str = "",
    part_names: dict[int, str] | None = None,
    part_glbs: dict[int, bytes] | None = None,
    normalized_glb: bytes | None = None,
    label_source: str = "auto",
    segmentation_method: str = "artist",
    num_samples: int = NUM_SAMPLES,
    metadata: dict | None = None,
    sha256: str = "",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One objects row and its parts rows. vertices (V, 3), faces (F, 3), face_labels (F,) int."""
    labels = np.asarray(face_labels, dtype=np.int32)
    order = np.argsort(labels, kind="stable")
    ids, starts = np.unique(labels[order], return_index=True)
    groups = np.split(order, starts[1:]) if len(order) else []
    parts = []
    for pid, idx in zip(ids.tolist(), groups):
        f = faces[idx]
        used = np.unique(f)
        points, normals = sample_surface(vertices, f, num_samples, part_seed(uid, pid))
        glb = (part_glbs or {}).get(pid)
        if glb is None:
            remap = np.zeros(len(vertices), np.int64)
            remap[used] = np.arange(len(used))
            glb = mesh_glb(vertices[used], remap[f])
        parts.append({
            "uid": uid, "part_id": int(pid), "name": (part_names or {}).get(pid, f"part_{pid}"), "license": license,
            "num_faces": int(len(idx)), "face_indices": idx.astype(np.int32),
            "bbox_min": vertices[used].min(0).astype(np.float32), "bbox_max": vertices[used].max(0).astype(np.float32),
            "points": points, "normals": normals, "glb": glb,
        })
    obj = {
        "uid": uid, "sha256": sha256, "source": source, "source_uri": source_uri, "license": license,
        "metadata_json": json.dumps(metadata or {}, sort_keys=True), "num_faces": int(len(faces)),
        "num_vertices": int(len(vertices)), "num_parts": len(parts), "label_source": label_source,
        "segmentation_method": segmentation_method, "segmentation_params_json": "{}",
        "face_labels": labels, "transform": np.eye(4).reshape(-1),
        "normalized_glb": normalized_glb if normalized_glb is not None else mesh_glb(vertices, faces),
    }
    return obj, parts


def load_with_geometry_labels(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load a mesh file with trimesh, normalized into the unit cube, labelled by scene geometry.

    Returns vertices (V, 3) float64, faces (F, 3) int64, face_labels (F,) int32, part names.
    """
    import trimesh

    scene = trimesh.load(str(path), force="scene")
    meshes = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    verts, faces, labels, names, offset = [], [], [], [], 0
    for i, m in enumerate(meshes):
        verts.append(np.asarray(m.vertices, np.float64))
        faces.append(np.asarray(m.faces, np.int64) + offset)
        labels.append(np.full(len(m.faces), i, np.int32))
        names.append(str(m.metadata.get("name") or f"part_{i}"))
        offset += len(m.vertices)
    v = np.concatenate(verts)
    lo, hi = v.min(0), v.max(0)
    v = (v - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-12)
    return v, np.concatenate(faces), np.concatenate(labels), names


def rows_from_file(path: str | Path, uid: str | None = None, *, license: str | None = None, num_samples: int = NUM_SAMPLES, **kw):
    """(objects row, parts rows) for one mesh file, parts = its scene geometries."""
    path = Path(path)
    v, f, labels, names = load_with_geometry_labels(path)
    uid = uid or path.stem
    sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return object_rows(
        uid, v, f, labels, license=license, source_uri=str(path), num_samples=num_samples,
        part_names=dict(enumerate(names)), sha256=sha, **kw,
    )


