"""Export parts from per-face labels: face sets, boxes, surface samples and textured part GLBs.

Part GLBs and boxes are in the normalized frame ([-0.5, 0.5]^3, see `normalize`); the object's
`Mesh.transform` maps them back to the file's frame. Each part GLB has one node (named after the
part) with one primitive per original material, carrying the original UVs and textures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partverse.geometry.glb import GlbBuilder, Primitive
from partverse.geometry.normalize import normalize
from partverse.geometry.sampling import face_corners, group_faces, sample_seed, sample_sorted_groups
from partverse.records import Mesh, Part


def _primitives(mesh: Mesh, face_indices: np.ndarray) -> list[Primitive]:
    """One Primitive per material among `face_indices` (a (Fp,) int64 face subset), compact vertices."""
    mats = mesh.face_material[face_indices]
    prims = []
    for material in np.unique(mats):  # loop over materials, not faces
        faces = mesh.faces[face_indices[mats == material]]
        used, inverse = np.unique(faces, return_inverse=True)
        prims.append(Primitive(
            positions=mesh.vertices[used],
            indices=inverse.reshape(-1, 3),
            uv=mesh.uv[used] if mesh.uv is not None else None,
            colors=mesh.vertex_colors[used] if mesh.vertex_colors is not None else None,
            material=int(material),
        ))
    return prims


def _groups(keys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct keys in first-appearance order and the (sorted) face indices of each."""
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    chunks = np.split(order, starts[1:])
    first = np.array([c[0] for c in chunks])
    rank = np.argsort(first)
    return uniq[rank], [chunks[i] for i in rank]


def mesh_to_glb(mesh: Mesh, image_cache: dict | None = None) -> bytes:
    """The whole mesh as GLB bytes, one node per artist part (named after it), materials and
    textures kept, in the mesh's current frame. Faces keep their order within each part."""
    builder = GlbBuilder(mesh.materials, image_cache if image_cache is not None else {})
    parts, chunks = _groups(np.asarray(mesh.face_artist_part))
    for part, faces in zip(parts, chunks):
        builder.add_node(mesh.artist_parts[int(part)].name, _primitives(mesh, faces))
    builder.extras({"transform_to_file_frame": mesh.transform.reshape(-1).tolist()})
    return builder.to_bytes()


def part_glb(mesh: Mesh, face_indices: np.ndarray, name: str, image_cache: dict | None = None) -> bytes:
    """GLB bytes of the faces `face_indices` of `mesh` as one node `name`, textures kept."""
    builder = GlbBuilder(mesh.materials, image_cache if image_cache is not None else {})
    builder.add_node(name, _primitives(mesh, face_indices))
    builder.extras({"transform_to_file_frame": mesh.transform.reshape(-1).tolist()})
    return builder.to_bytes()


def export_parts(mesh: Mesh, face_labels: np.ndarray, names: dict[int, str] | list[str] | None = None,
                 num_samples: int = 4096, seed: int = 0, uid: str | None = None) -> list[Part]:
    """One Part per distinct label of (F,) `face_labels`, in label order.

    The mesh is normalized first unless `normalize` already ran on it. Every face goes to exactly
    one part. Samples: `num_samples` area-weighted points + face normals per part, drawn for
    all parts at once from one random stream seeded by (`seed`, `uid`) (`sampling.sample_seed`), so
    a re-run with the same mesh, labels, seed and uid gives the same samples."""
    labels = np.asarray(face_labels).reshape(-1)
    if len(labels) != mesh.num_faces:
        raise ValueError(f"face_labels has {len(labels)} entries for a mesh of {mesh.num_faces} faces")
    if not mesh.metadata.get("normalized"):
        mesh = normalize(mesh)
    uid = uid or str(mesh.metadata.get("uid") or Path(mesh.source).stem or "object")
    cache: dict = {}
    samples = part_samples(mesh, labels, num_samples, seed=seed, uid=uid)
    parts = []
    for i, (label, faces) in enumerate(zip(samples.labels.tolist(), samples.faces)):  # loop over parts
        name = _name(names, label)
        parts.append(Part(
            uid=uid, part_id=int(label), name=name, face_indices=faces,
            bbox_min=samples.box_min[i], bbox_max=samples.box_max[i], points=samples.points[i],
            normals=samples.normals[i], glb=part_glb(mesh, faces, name, cache),
        ))
    return parts


@dataclass(slots=True)
class PartSamples:
    """Everything of a part export except the GLBs, for K parts in label order: labels (K,),
    faces (list of K (Fk,) int64 sorted face indices), box_min / box_max (K, 3) float32 and
    points / normals (K, n, 3) float32."""
    labels: np.ndarray
    faces: list[np.ndarray]
    box_min: np.ndarray
    box_max: np.ndarray
    points: np.ndarray
    normals: np.ndarray


def part_samples(mesh: Mesh, face_labels: np.ndarray, num_samples: int = 4096, seed: int = 0, uid: str = "object") -> PartSamples:
    """Face sets, boxes and `num_samples` surface samples of every part of (F,) `face_labels`, in the
    mesh's current frame, one vectorized pass over all parts (see `export_parts` for the seeding)."""
    labels = np.asarray(face_labels).reshape(-1)
    order, starts, ends = group_faces(labels)
    uniq = labels[order[starts]]
    corners = face_corners(mesh.vertices, mesh.faces, order)  # gathered once for samples and boxes
    points, normals = sample_sorted_groups(corners, starts, ends, num_samples, seed=sample_seed(seed, uid))
    box_min, box_max = part_boxes(corners, starts)
    faces = order.astype(np.int64, copy=False)
    return PartSamples(uniq, [faces[s:e] for s, e in zip(starts.tolist(), ends.tolist())], box_min, box_max, points, normals)


def part_boxes(corners: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned boxes of consecutive face runs: corners (3, 3, F) of faces sorted by part (see
    `sampling.face_corners`), (K,) run starts -> (K, 3) float32 minima and maxima."""
    low = np.minimum(np.minimum(corners[:, 0], corners[:, 1]), corners[:, 2])
    high = np.maximum(np.maximum(corners[:, 0], corners[:, 1]), corners[:, 2])
    return (np.minimum.reduceat(low, starts, axis=1).T.astype(np.float32),
            np.maximum.reduceat(high, starts, axis=1).T.astype(np.float32))


def _name(names, label: int) -> str:
    if isinstance(names, dict) and label in names:
        return str(names[label])
    if isinstance(names, (list, tuple)) and 0 <= label < len(names):
        return str(names[label])
    return f"part_{label:03d}"
