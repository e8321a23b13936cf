"""Wavefront OBJ (+MTL, textures) loader.

Artist parts: one per OBJ group / object (`g` / `o`); a file without groups is split by `usemtl`.
Face order: the file's own face order when every group is one contiguous block of faces (parts are
put back in the order their first face appears; trimesh lists groups in reverse).
MTL texture paths written with Windows separators (".\\tex.jpg") are resolved.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from partverse.errors import MeshLoadError
from partverse.io import register
from partverse.io.scene import scene_to_mesh
from partverse.io.validate import validate_mesh
from partverse.records import ArtistPart, Mesh

MAX_OBJ_BYTES = 1 << 30
_NONFINITE = re.compile(rb"^v[ \t]+[^\n]*\b(nan|inf|infinity)\b", re.IGNORECASE | re.MULTILINE)
_FACE = re.compile(rb"^f[ \t]+([^\n#]*)", re.MULTILINE)
_GROUP = re.compile(rb"^[go][ \t]+([^\n]*)", re.MULTILINE)


def _resolver(path: Path):
    from trimesh.resolvers import FilePathResolver

    class WindowsPathResolver(FilePathResolver):
        """Also finds "dir\\tex.jpg" and case-mismatched names next to the OBJ."""

        def get(self, name):
            fixed = str(name).replace("\\", "/")
            try:
                return super().get(fixed)
            except Exception:
                return super().get(Path(fixed).name)

    return WindowsPathResolver(str(path))


def _prescan(path: Path, data: bytes) -> list[str]:
    """Refuse non-finite vertices; warn about faces with fewer than 3 vertices. Returns warnings."""
    bad = _NONFINITE.search(data)
    if bad:
        line = data.count(b"\n", 0, bad.start()) + 1
        raise MeshLoadError(path, f"non-finite vertex coordinate at line {line}: {bad.group(0).decode(errors='replace').strip()!r}")
    faces = _FACE.findall(data)
    short = sum(1 for f in faces if len(f.split()) < 3)  # one token count per face line, on bytes
    return [f"{short} face line(s) with fewer than 3 vertices skipped"] if short else []


@register(".obj")
def load_obj(path: Path) -> Mesh:
    """Load an OBJ file as one Mesh with one artist part per group (or per material)."""
    import trimesh

    size = path.stat().st_size
    if size == 0:
        raise MeshLoadError(path, "empty file (0 bytes)")
    if size > MAX_OBJ_BYTES:
        raise MeshLoadError(path, f"file of {size} bytes exceeds the {MAX_OBJ_BYTES}-byte limit")
    data = path.read_bytes()
    notes = _prescan(path, data)
    groups = [g.strip().decode(errors="replace") for g in _GROUP.findall(data)]
    kwargs = dict(split_groups=True, split_objects=True, group_material=False) if groups else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # trimesh's texture colour guess warns on NaN
            scene = trimesh.load(str(path), file_type="obj", resolver=_resolver(path), process=False,
                                 maintain_order=True, force="scene", **kwargs)
    except Exception as exc:
        raise MeshLoadError(path, f"OBJ could not be read: {type(exc).__name__}: {exc}") from exc
    kind = "obj-group" if groups else "obj-material"
    mesh = scene_to_mesh(scene, str(path), lambda sc, node, geom: ArtistPart(name=str(geom), kind=kind, node_path=str(node), mesh=str(geom)),
                         nodes=_file_order(scene, groups))
    mesh.warnings.extend(notes)
    return validate_mesh(mesh, path)


def _file_order(scene, groups: list[str]) -> list[str]:
    """The scene's geometry nodes sorted by the first appearance of their group in the file."""
    first = {name: i for i, name in reversed(list(enumerate(groups)))}
    nodes = list(scene.graph.nodes_geometry)
    rank = [first.get(str(scene.graph[n][1]), first.get(str(n), len(groups))) for n in nodes]
    return [nodes[i] for i in np.argsort(rank, kind="stable")]
