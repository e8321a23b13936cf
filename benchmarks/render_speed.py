"""Render and caption throughput, each against a baseline measured in the same run.

    python benchmarks/render_speed.py [--asset PATH] [--resolution 256] [--no-blender] [--no-caption]

1. Face-id rays per second per core: embree (partverse.render.faceid) vs trimesh's pure-numpy
   triangle ray caster on the same rays (a sample of them: it is slow).
2. Shaded render time per view at the same resolution: the embree ray caster (face ids + normals +
   textured shading) vs Blender Cycles on CPU (16 samples, bpy).
3. Caption stage images per second with a tiny random Qwen2-VL, divided by the bare
   `model.generate` throughput on the same processed inputs (1 - ratio = stage overhead).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_ASSET = Path(os.environ.get("PARTVERSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "assets" / "objaverse_002e462c8bfa4267a9c9f038c7966f3b.glb"


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _cpu(fn, repeat: int = 3) -> float:
    """Best CPU seconds of this process (all threads) over `repeat` runs: rays per CPU-second is
    rays per second per core, whatever else is running on the machine."""
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return max(min(times), 1e-9)


def bench_face_ids(mesh, cams) -> None:
    import trimesh
    from trimesh.ray.ray_pyembree import RayMeshIntersector as EmbreeIntersector

    from partverse.render.faceid import RayScene

    scene = RayScene(mesh.vertices, mesh.faces)
    rays = sum(c.width * c.height for c in cams)
    ours = rays / _cpu(lambda: [scene.render(c) for c in cams])
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    rays_dirs = [c.rays() for c in cams]
    emb = EmbreeIntersector(tm)
    emb.intersects_first(*rays_dirs[0])  # build the BVH outside the timing
    tm_embree = rays / _cpu(lambda: [emb.intersects_first(o, d) for o, d in rays_dirs])
    o, d = rays_dirs[0]
    sample = np.random.default_rng(0).choice(len(o), size=min(len(o), 512), replace=False)
    ref = trimesh.ray.ray_triangle.RayMeshIntersector(tm)
    numpy_rate = len(sample) / _cpu(lambda: ref.intersects_first(o[sample], d[sample]), repeat=1)
    print(f"face ids: {mesh.num_faces} faces, {len(cams)} views x {cams[0].width}^2 (rays per CPU-second = per core)")
    print(f"  partverse embree      {ours:12,.0f} rays/s/core (face id + barycentrics + depth)")
    print(f"  trimesh embree        {tm_embree:12,.0f} rays/s/core (intersects_first: face id only; baseline)")
    print(f"  trimesh numpy         {numpy_rate:12,.0f} rays/s/core (ray_triangle)")
    print(f"  ratio vs trimesh embree {ours / tm_embree:8.2f}x, vs numpy {ours / numpy_rate:,.0f}x")


def bench_shaded(mesh, cam, asset: Path, blender: bool) -> None:
    from partverse.render.objects import render_shaded
    from partverse.render.faceid import RayScene

    scene = RayScene(mesh.vertices, mesh.faces)
    t_ray = _best(lambda: render_shaded(mesh, cam, scene))
    print(f"shaded view {cam.width}^2:")
    print(f"  ray caster      {t_ray * 1000:10.1f} ms/view")
    if not blender:
        return
    try:
        t_cycles = blender_cycles_time(asset, cam)
    except ImportError as exc:
        print(f"  Blender Cycles  not measured ({exc})")
        return
    print(f"  Blender Cycles  {t_cycles * 1000:10.1f} ms/view (CPU, 16 samples; baseline)")
    print(f"  ratio           {t_cycles / t_ray:10.1f}x faster with the ray caster")


def blender_cycles_time(asset: Path, cam) -> float:
    """Seconds per Cycles render of `asset` from `cam` (glTF +Y up becomes Blender +Z up)."""
    import bpy
    from mathutils import Matrix

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(asset))
    to_blender = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)
    cam_data = bpy.data.cameras.new("cam")
    cam_data.sensor_fit = "VERTICAL"
    cam_data.angle_y = np.radians(cam.fov_deg)
    cam_obj = bpy.data.objects.new("cam", cam_data)
    bpy.context.scene.collection.objects.link(cam_obj)
    m = np.eye(4)
    m[:3, :3] = to_blender @ cam.rotation()
    m[:3, 3] = to_blender @ np.asarray(cam.position)
    cam_obj.matrix_world = Matrix(m.tolist())
    light = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    light.matrix_world = cam_obj.matrix_world
    bpy.context.scene.collection.objects.link(light)
    sc = bpy.context.scene
    sc.camera = cam_obj
    sc.render.engine = "CYCLES"
    sc.cycles.device = "CPU"
    sc.cycles.samples = 16
    sc.cycles.use_denoising = False
    sc.render.resolution_x, sc.render.resolution_y = cam.width, cam.height
    sc.render.resolution_percentage = 100
    sc.render.film_transparent = True
    sc.render.filepath = os.path.join(tempfile.mkdtemp(), "cycles.png")
    bpy.ops.render.render(write_still=True)  # warm-up: kernels, BVH
    return _best(lambda: bpy.ops.render.render(write_still=True), repeat=2)


def bench_caption(asset: Path) -> None:
    import torch

    from partverse.caption.backends import CaptionConfig, make_backend
    from partverse.caption.run import caption_objects
    from partverse.caption.tiny import build_tiny_vlm
    from partverse.io import load
    from partverse.render.composite import HighlightStyle
    from partverse.render.objects import RenderConfig, render_object

    torch.set_num_threads(1)
    mesh = load(asset)
    renders = render_object("bench", mesh, mesh.face_artist_part, {i: p.name for i, p in enumerate(mesh.artist_parts)},
                            RenderConfig(resolution=128, views=4, style=HighlightStyle(tile=112)))
    model = build_tiny_vlm(tempfile.mkdtemp())
    cfg = CaptionConfig(backend="transformers", model=model, batch_size=8, max_new_tokens=16, device="cpu")
    backend = make_backend(cfg)
    backend.setup()
    calls = []  # record exactly what the stage sends, so the baseline gets the same inputs
    generate = backend.generate
    backend.generate = lambda reqs, retry=False: calls.append((list(reqs), retry)) or generate(reqs, retry)
    caption_objects([renders], backend, cfg)  # warm-up + recording
    backend.generate = generate
    n_images = len(calls[0][0])
    prepared = [(backend.prepare(reqs[s : s + cfg.batch_size]), retry) for reqs, retry in calls for s in range(0, len(reqs), cfg.batch_size)]

    def bare():
        for inputs, retry in prepared:
            backend.generate_batch(inputs, retry)

    bare()  # warm-up
    t_bare = _best(bare, repeat=3)
    t_stage = _best(lambda: caption_objects([renders], backend, cfg), repeat=3)
    print(f"caption (tiny Qwen2-VL, {n_images} images incl. the object, CPU, 1 thread; the random model's replies all fail, so each is asked twice):")
    print(f"  stage           {n_images / t_stage:8.2f} images/s")
    print(f"  bare generate   {n_images / t_bare:8.2f} images/s (the same requests, processed beforehand; baseline)")
    print(f"  ratio           {t_bare / t_stage:8.2f} (overhead {100 * (1 - t_bare / t_stage):.1f}%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--asset", type=Path, default=DEFAULT_ASSET)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--no-blender", action="store_true")
    ap.add_argument("--no-caption", action="store_true")
    args = ap.parse_args()
    from partverse.io import load
    from partverse.render.objects import RenderConfig

    mesh = load(args.asset)
    cams = RenderConfig(resolution=args.resolution, views=4).cameras(mesh.vertices.min(0), mesh.vertices.max(0))
    print(f"asset {args.asset.name}, cores available {os.cpu_count()}")
    bench_face_ids(mesh, cams)
    bench_shaded(mesh, cams[0], args.asset, not args.no_blender)
    if not args.no_caption:
        bench_caption(args.asset)


if __name__ == "__main__":
    main()
