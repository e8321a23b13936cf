"""Object thumbnails with their parts coloured, and caption highlight composites (embree ray caster)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

PART_COLOURS = np.array([
    (230, 25, 75), (60, 180, 75), (67, 99, 216), (245, 130, 49), (145, 30, 180), (66, 212, 244),
    (240, 50, 230), (191, 239, 69), (70, 153, 144), (154, 99, 36), (128, 0, 0), (128, 128, 0),
    (0, 0, 117), (255, 225, 25), (170, 255, 195), (220, 190, 255)], dtype=np.float64)


def load_glb(uid: str, glb: bytes):  # noqa: ANN201
    """The object's normalized GLB as a `Mesh` (faces in the order of its face_labels).

    Raises ValueError naming the object and the problem (not the temporary file)."""
    from partverse.errors import MeshLoadError
    from partverse.io import load

    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        path = Path(tmp) / f"{uid.replace('/', '_')}.glb"
        path.write_bytes(glb)
        try:
            return load(path)
        except MeshLoadError as exc:
            raise ValueError(f"normalized_glb does not load: {exc.reason}") from None


def _camera(mesh, size: int):  # noqa: ANN001, ANN202
    from partverse.render.objects import RenderConfig

    from partverse.render.cameras import Camera

    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    cam = RenderConfig(views=8, resolution=size, elevation_deg=25.0).cameras(lo, hi)[1]
    target = np.asarray(cam.target, np.float64)
    position = target + (np.asarray(cam.position, np.float64) - target) * 1.25  # a margin around the object
    return Camera(tuple(position.tolist()), cam.target, cam.up, cam.fov_deg, cam.width, cam.height, cam.name)


def part_colours(face_labels: np.ndarray) -> np.ndarray:
    """(F,) part ids -> (F, 3) RGB float, colour by rank of the part id (the same order as the legend)."""
    ids, rank = np.unique(face_labels, return_inverse=True)
    return PART_COLOURS[rank % len(PART_COLOURS)]


def coloured_render(mesh, face_labels: np.ndarray, size: int = 192) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The mesh with each part in its colour, Lambert-shaded: ((H, W, 4) uint8 RGBA, (H, W) int64 face ids)."""
    from partverse.render.faceid import RayScene

    camera = _camera(mesh, size)
    scene = RayScene(mesh.vertices, mesh.faces)
    r = scene.render(camera)
    hit = r.face_id >= 0
    normals = scene.normals(camera, r, smooth=False)
    view = -np.asarray(camera.view_axis(), dtype=np.float64)
    shade = 0.45 + 0.55 * np.abs(normals @ view)
    colours = part_colours(face_labels)[np.where(hit, r.face_id, 0)] * shade[..., None]
    rgba = np.zeros((*hit.shape, 4), np.uint8)
    rgba[..., :3] = np.clip(colours, 0, 255).astype(np.uint8)
    rgba[..., 3] = np.where(hit, 255, 0)
    rgba[~hit, :3] = 255
    return rgba, r.face_id


def object_views(mesh, size: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001
    """The object shaded with its own materials from 8 orbit cameras, then 12 icosahedron cameras (from
    every side, so undersides are seen too): [((H, W, 4) RGBA, (H, W) face ids)]."""
    from partverse.render.faceid import RayScene
    from partverse.render.objects import RenderConfig, render_shaded

    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    scene = RayScene(mesh.vertices, mesh.faces)
    out = []
    config = RenderConfig(views=8, resolution=size, elevation_deg=25.0)
    for cam in config.cameras(lo, hi) + config.cameras(lo, hi, "icosahedron"):
        rgba, r = render_shaded(mesh, cam, scene)
        out.append((rgba, r.face_id))
    return out


def highlight_composite(views: list[tuple[np.ndarray, np.ndarray]], face_labels: np.ndarray, part_id: int) -> bytes | None:
    """PNG of the object from the view showing most of `part_id`, the part boxed and tinted red, the
    rest dimmed; None when no view shows it."""
    from partverse.render.composite import HighlightStyle, compose
    from partverse.render.objects import png_bytes

    masks = [(fid >= 0) & (face_labels[np.maximum(fid, 0)] == part_id) for _, fid in views]
    best = int(np.argmax([m.sum() for m in masks]))  # the first such view: orbit views come first
    if not masks[best].any():
        return None
    size = masks[best].shape[0]
    style = HighlightStyle(mark="box", layout="object_only", dim_rest=0.6, tint=0.35, tile=size)
    return png_bytes(compose(views[best][0], masks[best], None, style))
