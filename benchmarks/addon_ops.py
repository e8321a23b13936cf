"""Add-on operation times at 10k / 100k / 1M faces, each divided by Blender's own glTF importer
time for the same GLB in the same run (bpy module, no network: the task's mesh bytes are local).

  load      read_glb + build the object (INT face attribute, CORNER colours)
  recolour  merge two segments (core) + write labels and colours to the mesh
  select    read the edit-mode face selection as an index array
  edit-merge  the Merge operator's work in edit mode on two selected faces of two segments (the
            last of 16 bands, F/16 faces, joins the first): read selection, merge, write labels and
            colours of the changed faces into the BMesh

usage: python benchmarks/addon_ops.py [--sizes 10000 100000 1000000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "blender_addons"))


def grid_glb(faces: int, path: Path) -> np.ndarray:
    """A grid mesh with about `faces` triangles as GLB; returns (F,) labels (16 bands)."""
    import trimesh

    n = int(np.sqrt(faces / 2))
    x, y = np.meshgrid(np.arange(n + 1), np.arange(n + 1))
    v = np.c_[x.ravel(), y.ravel(), np.zeros(x.size)].astype(np.float32) / n
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None]).ravel()
    f = np.r_[np.c_[i, i + 1, i + n + 1], np.c_[i + 1, i + n + 2, i + n + 1]]
    trimesh.Trimesh(v, f, process=False).export(path)
    return (np.arange(len(f)) * 16 // len(f)).astype(np.int32)


def timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    import bpy

    from partverse_annotator import scene
    from partverse_annotator.core import labels as L
    from partverse_annotator.core.glb import read_glb

    print(f"{'faces':>9} {'gltf import s':>13} {'load':>12} {'recolour':>12} {'select':>12} {'edit-merge':>12}   (ratio = op / import)")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "grid.glb"
            labels = grid_glb(size, path)
            bpy.ops.wm.read_factory_settings(use_empty=True)
            base = timed(lambda: bpy.ops.import_scene.gltf(filepath=str(path)))
            for o in list(bpy.data.objects):
                bpy.data.objects.remove(o)
            holder = {}
            load = timed(lambda: holder.update(obj=scene.build_object("T", *read_glb(path.read_bytes()), labels)))
            obj = holder["obj"]
            faces = np.array([0, len(labels) - 1])  # touches the first and last band

            def recolour() -> None:
                merged, _ = L.merge(labels, {}, faces)
                scene.write_labels(obj, merged)
            rec = timed(recolour)
            scene.select_faces(obj, np.arange(0, len(labels), 7))
            bpy.ops.object.mode_set(mode="EDIT")
            sel = timed(lambda: scene.selected_faces(obj))
            scene.select_faces(obj, faces)  # one face in the first band, one in the last (1/16 of F each)
            edit = timed(lambda: scene.update_labels(obj, labels, L.merge(labels, {}, scene.selected_faces(obj))[0]))
            bpy.ops.object.mode_set(mode="OBJECT")
            print(f"{len(labels):>9} {base:>13.3f} {load:>6.3f}s {load / base:>4.2f}x {rec:>6.3f}s {rec / base:>4.2f}x "
                  f"{sel:>6.3f}s {sel / base:>4.2f}x {edit:>6.3f}s {edit / base:>4.2f}x", flush=True)


if __name__ == "__main__":
    main()
