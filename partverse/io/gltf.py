"""glTF 2.0 / GLB loader: checked container and JSON (gltf_check), then trimesh, then validation.

Artist parts: one per (node, mesh primitive) instance, named "<node>" or "<node>.prim<k>" when the
mesh has several primitives. Face order: `trimesh.Scene.dump(concatenate=True)` of the same file
(the order PartObjaverse-Tiny's ground truth uses). KHR_draco_mesh_compression is decoded with
DracoPy. Skins and animations are ignored: skinned meshes load in their rest (bind) pose with node
transforms baked.
"""
from __future__ import annotations

import io
from pathlib import Path

from partverse.errors import MeshLoadError
from partverse.io import register
from partverse.io.gltf_check import check_gltf
from partverse.io.scene import node_path, scene_to_mesh
from partverse.io.validate import validate_mesh
from partverse.records import ArtistPart, Mesh

_LOADABLE_MODES = {0, 1, 4, 5}  # modes trimesh turns into geometry (points, lines, triangles, strips)


@register(".glb", ".gltf")
def load_gltf(path: Path, kind: str = "gltf-primitive") -> Mesh:
    """Load a .glb / .gltf file as one Mesh with per-face artist parts and materials."""
    checked = check_gltf(path)
    import trimesh  # after the checks: refusing a bad file stays cheap
    if _uses_draco(checked.header):
        try:
            import DracoPy  # noqa: F401  (a core dependency; trimesh's draco handler needs it)
        except ImportError as exc:
            raise MeshLoadError(path, "uses KHR_draco_mesh_compression but DracoPy is not installed (pip install DracoPy)") from exc
    try:
        if checked.glb is not None:
            scene = trimesh.load(io.BytesIO(checked.glb), file_type="glb", process=False, force="scene")
        else:
            scene = trimesh.load(str(path), process=False, force="scene")
    except MeshLoadError:
        raise
    except Exception as exc:  # trimesh raises many types; the message is what matters
        raise MeshLoadError(path, f"glTF could not be read: {type(exc).__name__}: {exc}") from exc
    origin = _geometry_origin(checked.header, list(scene.geometry))
    mesh = scene_to_mesh(scene, str(path), lambda sc, node, geom: _part(sc, node, geom, origin, kind))
    mesh.warnings.extend(checked.warnings + _skipped_primitives(checked.header))
    asset = checked.header.get("asset", {})
    if isinstance(asset.get("extras"), dict):
        mesh.metadata["asset_extras"] = asset["extras"]
    mesh.metadata["generator"] = str(asset.get("generator", ""))
    return validate_mesh(mesh, path)


def _skipped_primitives(header: dict) -> list[str]:
    """Warnings for primitives that are not triangles (points, lines, fans): they carry no faces."""
    names = {0: "points", 1: "lines", 2: "line loop", 3: "line strip", 6: "triangle fan"}
    return [f"meshes[{m}].primitives[{k}]: mode {p.get('mode')} ({names.get(p.get('mode'), 'unknown')}) has no triangles; skipped"
            for m, mesh in enumerate(header.get("meshes", [])) for k, p in enumerate(mesh.get("primitives", []))
            if p.get("mode", 4) not in (4, 5)]


def _uses_draco(header: dict) -> bool:
    return any("KHR_draco_mesh_compression" in (p.get("extensions") or {})
               for m in header.get("meshes", []) for p in m.get("primitives", []))


def _geometry_origin(header: dict, geometry_names: list[str]) -> dict[str, tuple[int, int, str]]:
    """trimesh geometry name -> (mesh index, primitive index, mesh name), from the JSON order."""
    origin = []
    for m, mesh in enumerate(header.get("meshes", [])):
        for k, prim in enumerate(mesh.get("primitives", [])):
            if prim.get("mode", 4) in _LOADABLE_MODES:
                origin.append((m, k, str(mesh.get("name", f"mesh{m}"))))
    if len(origin) != len(geometry_names):
        return {}
    return dict(zip(geometry_names, origin))


def _part(scene, node: str, geom: str, origin: dict, kind: str) -> ArtistPart:
    mesh_index, prim, mesh_name = origin.get(geom, (None, None, geom))
    multi = geom in scene.geometry and scene.geometry[geom].metadata.get("from_gltf_primitive", False)
    path = node_path(scene, node)
    if multi:  # trimesh hangs each primitive under a child frame with a random suffix: drop it
        path = path.rsplit("/", 1)[0] if "/" in path else path
    leaf = path.rsplit("/", 1)[-1]
    name = f"{leaf}.prim{prim}" if multi and prim is not None else leaf
    return ArtistPart(name=name, kind=kind, node_path=path, mesh=mesh_name, primitive=prim)
