"""FBX loader through Blender's importer (`bpy`), isolated in a subprocess.

The subprocess imports the FBX with `bpy.ops.import_scene.fbx` into an empty scene and writes a
GLB with Blender's glTF exporter (no animations: rest pose; textures embedded); the GLB is then
loaded like any other glTF. Running bpy in its own process keeps Blender's global state, signal
handlers and memory out of the caller, and a crash or hang inside Blender becomes a MeshLoadError.
Artist parts: one per FBX node (object); a node's material primitives are merged into its part.
Frame: Blender's glTF export frame (Y up, metres). ASCII FBX, which Blender's importer refuses,
is read by `partverse.io.fbx_ascii` instead (file's own frame and units, no bpy needed).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from partverse.errors import MeshLoadError
from partverse.io import register
from partverse.io.validate import validate_mesh
from partverse.records import Mesh

FBX_TIMEOUT_S = float(os.environ.get("PARTVERSE_FBX_TIMEOUT", "180"))

_SCRIPT = r"""
import sys
import bpy
src, dst = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
result = bpy.ops.import_scene.fbx(filepath=src)
if "FINISHED" not in result:
    sys.exit(3)
if not any(o.type == "MESH" for o in bpy.context.scene.objects):
    sys.stderr.write("no mesh objects in the FBX\n")
    sys.exit(4)
bpy.ops.export_scene.gltf(filepath=dst, export_format="GLB", export_animations=False,
                          export_cameras=False, export_lights=False, export_extras=False)
"""


def fbx_to_glb(path: Path, out: Path, timeout: float = FBX_TIMEOUT_S) -> None:
    """Convert `path` (FBX) to the GLB `out` with Blender in a subprocess. Raises MeshLoadError."""
    from partverse.extras import require
    import importlib.util

    if importlib.util.find_spec("bpy") is None:
        require("bpy", "blender")
    cmd = [sys.executable, "-c", _SCRIPT, str(path.resolve()), str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=out.parent)
    except subprocess.TimeoutExpired as exc:
        raise MeshLoadError(path, f"Blender FBX import did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0 or not out.is_file():
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        detail = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else "")
        raise MeshLoadError(path, f"Blender FBX import failed (exit {proc.returncode}): {detail.strip()[:300]}")


@register(".fbx")
def load_fbx(path: Path) -> Mesh:
    """Load an FBX file as one Mesh with one artist part per FBX node."""
    from partverse.io.gltf import load_gltf

    if path.stat().st_size == 0:
        raise MeshLoadError(path, "empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head.startswith(b"Kaydara FBX Binary"):
        if b"FBX" not in head and b"FBXHeaderExtension" not in path.read_bytes()[:4096]:
            raise MeshLoadError(path, f"not an FBX file: starts with {head[:16]!r}")
        from partverse.io.fbx_ascii import read_ascii_fbx  # Blender cannot import ASCII FBX

        return validate_mesh(read_ascii_fbx(path), path)
    with tempfile.TemporaryDirectory(prefix="partverse-fbx-") as tmp:
        glb = Path(tmp) / "converted.glb"
        fbx_to_glb(path, glb)
        try:
            mesh = load_gltf(glb, kind="fbx-node")
        except MeshLoadError as exc:
            raise MeshLoadError(path, f"converted GLB: {exc.reason}") from exc
    mesh.source = str(path)
    return merge_parts_by_node(mesh)


def merge_parts_by_node(mesh: Mesh) -> Mesh:
    """One artist part per node path: the material primitives of one node become one part."""
    paths = [p.node_path for p in mesh.artist_parts]
    unique, first, inverse = np.unique(paths, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    parts = []
    for i in order:
        part = mesh.artist_parts[first[i]]
        part.name, part.primitive = part.node_path.rsplit("/", 1)[-1], None
        parts.append(part)
    mesh.face_artist_part = rank[inverse][mesh.face_artist_part].astype(np.int32)
    mesh.artist_parts = parts
    return mesh
