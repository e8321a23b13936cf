"""Format loaders built on trimesh: turn a trimesh Scene or mesh into a `Mesh`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from partverse.errors import MeshLoadError
from partverse.io import register
from partverse.records import ArtistPart, Material, Mesh


def _material(tm_material) -> Material:
    from trimesh.visual.material import PBRMaterial

    if tm_material is None:
        return Material()
    if not isinstance(tm_material, PBRMaterial):
        tm_material = tm_material.to_pbr()
    factor = tm_material.baseColorFactor
    base = tuple(float(c) / 255.0 for c in factor) if factor is not None else (1.0, 1.0, 1.0, 1.0)
    return Material(
        name=str(getattr(tm_material, "name", "") or ""),
        base_color_factor=base,
        base_color_texture=tm_material.baseColorTexture,
        metallic_factor=float(tm_material.metallicFactor if tm_material.metallicFactor is not None else 1.0),
        roughness_factor=float(tm_material.roughnessFactor if tm_material.roughnessFactor is not None else 1.0),
        metallic_roughness_texture=tm_material.metallicRoughnessTexture,
        normal_texture=tm_material.normalTexture,
        emissive_texture=tm_material.emissiveTexture,
        alpha_mode=str(tm_material.alphaMode or "OPAQUE"),
        double_sided=bool(tm_material.doubleSided),
    )


def scene_to_mesh(scene, source: str, kind: str) -> Mesh:
    """Concatenate a trimesh Scene in `Scene.dump(concatenate=True)` order, one artist part per
    (node, geometry) instance, transforms baked."""
    import trimesh

    vertices, faces, face_part, face_mat, uvs, parts, materials = [], [], [], [], [], [], []
    material_index: dict[int, int] = {}
    offset = 0
    any_uv = False
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        v = trimesh.transform_points(np.asarray(geom.vertices, dtype=np.float64), transform)
        f = np.asarray(geom.faces, dtype=np.int64) + offset
        path = scene.graph.transforms.parents
        names = [node]
        while names[-1] in path and path[names[-1]] != scene.graph.base_frame:
            names.append(path[names[-1]])
        parts.append(ArtistPart(name=str(node), kind=kind, node_path="/".join(reversed(names)), mesh=str(geom_name)))
        visual = geom.visual
        mat = getattr(visual, "material", None)
        if mat is not None:
            key = id(mat)
            if key not in material_index:
                material_index[key] = len(materials)
                materials.append(_material(mat))
            mi = material_index[key]
        else:
            mi = -1
        uv = getattr(visual, "uv", None)
        if uv is not None and len(uv) == len(v):
            any_uv = True
            uvs.append(np.asarray(uv, dtype=np.float32))
        else:
            uvs.append(None)
        vertices.append(v)
        faces.append(f)
        face_part.append(np.full(len(f), len(parts) - 1, dtype=np.int32))
        face_mat.append(np.full(len(f), mi, dtype=np.int32))
        offset += len(v)
    if not faces:
        raise MeshLoadError(source, "no triangle geometry in the file")
    uv_all = None
    if any_uv:
        uv_all = np.concatenate([u if u is not None else np.zeros((len(v), 2), np.float32) for u, v in zip(uvs, vertices)])
    return Mesh(
        vertices=np.concatenate(vertices),
        faces=np.concatenate(faces),
        face_artist_part=np.concatenate(face_part),
        face_material=np.concatenate(face_mat),
        artist_parts=parts,
        materials=materials,
        uv=uv_all,
        source=source,
    )


@register(".glb", ".gltf", ".obj", ".ply", ".off", ".stl")
def load_with_trimesh(path: Path) -> Mesh:
    import trimesh

    kind = {".glb": "gltf-primitive", ".gltf": "gltf-primitive", ".obj": "obj-group"}.get(path.suffix.lower(), "whole")
    try:
        loaded = trimesh.load(str(path), process=False, maintain_order=True)
    except Exception as exc:  # trimesh raises many types; the message is what matters
        raise MeshLoadError(path, f"{type(exc).__name__}: {exc}") from exc
    if isinstance(loaded, trimesh.Trimesh):
        loaded = trimesh.Scene(loaded)
    mesh = scene_to_mesh(loaded, str(path), kind)
    if not np.isfinite(mesh.vertices).all():
        raise MeshLoadError(path, "non-finite vertex coordinates")
    return mesh
