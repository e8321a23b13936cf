"""Turn a trimesh Scene into one `Mesh`, keeping which artist part and material each face came from.

Face order is exactly `trimesh.Scene.dump(concatenate=True)`: the scene graph's geometry nodes in
`graph.nodes_geometry` order, each geometry's faces in file order, node transforms (and instancing)
baked; a mirroring transform (negative determinant) reverses the winding as trimesh does.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from partverse.errors import MeshLoadError
from partverse.records import ArtistPart, Material, Mesh


def _rgba(value, default=(1.0, 1.0, 1.0, 1.0)) -> tuple[float, ...]:
    if value is None:
        return default
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.dtype.kind in "ui" or arr.max(initial=0) > 1.0:
        arr = arr / 255.0
    if len(arr) == 3:
        arr = np.append(arr, 1.0)
    return tuple(float(c) for c in arr[:4])


def convert_material(tm_material) -> Material:
    """A partverse Material from a trimesh material (SimpleMaterial is converted to PBR first)."""
    from trimesh.visual.material import PBRMaterial

    if tm_material is None:
        return Material()
    if not isinstance(tm_material, PBRMaterial):
        tm_material = tm_material.to_pbr()
    emissive = tm_material.emissiveFactor
    return Material(
        name=str(getattr(tm_material, "name", "") or ""),
        base_color_factor=_rgba(tm_material.baseColorFactor),
        base_color_texture=tm_material.baseColorTexture,
        metallic_factor=float(tm_material.metallicFactor if tm_material.metallicFactor is not None else 1.0),
        roughness_factor=float(tm_material.roughnessFactor if tm_material.roughnessFactor is not None else 1.0),
        metallic_roughness_texture=tm_material.metallicRoughnessTexture,
        normal_texture=tm_material.normalTexture,
        emissive_factor=tuple(float(c) for c in emissive[:3]) if emissive is not None else (0.0, 0.0, 0.0),
        emissive_texture=tm_material.emissiveTexture,
        alpha_mode=str(tm_material.alphaMode or "OPAQUE"),
        double_sided=bool(tm_material.doubleSided),
    )


def node_path(scene, node: str) -> str:
    """'/'-joined frame names from the scene root down to `node`."""
    parents = scene.graph.transforms.parents
    names = [node]
    while names[-1] in parents and parents[names[-1]] != scene.graph.base_frame:
        names.append(parents[names[-1]])
    return "/".join(reversed(names))


PartNamer = Callable[[object, str, str], ArtistPart]  # (scene, node, geometry name) -> ArtistPart


def scene_to_mesh(scene, source: str, namer: PartNamer, nodes: list[str] | None = None) -> Mesh:
    """Concatenate every triangle geometry instance of `scene` into one Mesh, in dump order
    (`graph.nodes_geometry`) unless `nodes` gives another order of the geometry nodes."""
    import trimesh

    chunks, parts, materials = [], [], []
    material_index: dict[int, int] = {}
    offset = 0
    for node in (scene.graph.nodes_geometry if nodes is None else nodes):
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        v = trimesh.transform_points(np.asarray(geom.vertices, dtype=np.float64), transform)
        f = np.asarray(geom.faces, dtype=np.int64)
        if np.linalg.det(np.asarray(transform)[:3, :3]) < 0:
            f = f[:, ::-1]
        parts.append(namer(scene, node, geom_name))
        mi = _material_slot(getattr(geom.visual, "material", None), material_index, materials)
        chunks.append(_chunk(geom, v, f + offset, len(parts) - 1, mi))
        offset += len(v)
    if not chunks:
        raise MeshLoadError(source, "no triangle geometry in the file")
    return _assemble(chunks, parts, materials, source)


def _material_slot(mat, index: dict[int, int], materials: list[Material]) -> int:
    if mat is None:
        return -1
    if id(mat) not in index:
        index[id(mat)] = len(materials)
        materials.append(convert_material(mat))
    return index[id(mat)]


def _chunk(geom, v, f, part: int, material: int) -> dict:
    visual = geom.visual
    uv = getattr(visual, "uv", None)
    colors = None
    if getattr(visual, "kind", None) == "vertex":
        colors = np.asarray(visual.vertex_colors, dtype=np.uint8)
    elif getattr(visual, "vertex_attributes", None) and "color" in visual.vertex_attributes:
        colors = np.asarray(visual.vertex_attributes["color"])
        colors = (colors * 255).astype(np.uint8) if colors.dtype.kind == "f" else colors.astype(np.uint8)
    return {
        "v": v, "f": f, "part": part, "material": material,
        "uv": np.asarray(uv, np.float32) if uv is not None and len(uv) == len(v) else None,
        "colors": colors if colors is not None and len(colors) == len(v) and colors.shape[1] == 4 else None,
    }


def _assemble(chunks: list[dict], parts: list[ArtistPart], materials: list[Material], source: str) -> Mesh:
    def stack(key, width, dtype, fill):
        if all(c[key] is None for c in chunks):
            return None
        return np.concatenate([c[key] if c[key] is not None else np.full((len(c["v"]), width), fill, dtype)
                               for c in chunks]).astype(dtype)

    return Mesh(
        vertices=np.concatenate([c["v"] for c in chunks]),
        faces=np.concatenate([c["f"] for c in chunks]),
        face_artist_part=np.concatenate([np.full(len(c["f"]), c["part"], np.int32) for c in chunks]),
        face_material=np.concatenate([np.full(len(c["f"]), c["material"], np.int32) for c in chunks]),
        artist_parts=parts,
        materials=materials,
        uv=stack("uv", 2, np.float32, 0.0),
        vertex_colors=stack("colors", 4, np.uint8, 255),
        source=source,
    )
