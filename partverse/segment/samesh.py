"""The Samesh method: SAM-2 masks on multi-view renders, lifted to mesh faces.

Views: 12 cameras on an icosahedron (radius 2, 60 degree field of view) around the mesh scaled to
[-1, 1]; face-id buffers and normal-map images from `partverse.render.faceid` (embree ray casting;
face ids are always in [-1, F)). SAM-2 sees the normal maps (`sam2_masks`); masks are lifted,
linked across views, clustered and smoothed on the mesh (`lift`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from partverse.records import Mesh
from partverse.segment.lift import LiftConfig, lift_masks


@dataclass(slots=True)
class Views:
    """face_ids: (N, H, W) int64 (-1 background); images: (N, H, W, 3) uint8 normal maps."""

    face_ids: np.ndarray
    images: np.ndarray


@dataclass(slots=True)
class SameshResult:
    labels: np.ndarray  # (F,) int64 0..K-1
    mask_labels: np.ndarray  # (N, H, W) int64 per-view SAM-2 labels
    seconds: dict = field(default_factory=dict)  # render / sam2_embed / sam2_decode / lift


def unit_frame(vertices: np.ndarray) -> np.ndarray:
    """(V, 3) vertices centred on their bounding box and scaled so the longest side spans [-1, 1]."""
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    return (v - (lo + hi) / 2.0) / max(float((hi - lo).max()) / 2.0, 1e-12)


def render_views(vertices: np.ndarray, faces: np.ndarray, resolution: int = 512) -> Views:
    """Face-id buffers and normal-map images from the 12 icosahedron views."""
    from partverse.render.cameras import icosahedron_views
    from partverse.render.faceid import RayScene, normals_to_rgb

    scene = RayScene(unit_frame(vertices), faces)
    ids, images = [], []
    for camera in icosahedron_views(radius=2.0, fov_deg=60.0, resolution=resolution):  # 12 views
        render = scene.render(camera)
        ids.append(render.face_id)
        images.append(normals_to_rgb(scene.normals(camera, render)))
    return Views(np.stack(ids).astype(np.int64), np.stack(images))


def mesh_graph(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(E, 2) face adjacency (welded) and (F,) face areas."""
    from partverse.geometry.adjacency import face_adjacency, weld_vertices_radius
    from partverse.segment.facegraph import face_geometry

    pairs, _ = face_adjacency(weld_vertices_radius(mesh.vertices, mesh.faces))
    return pairs, face_geometry(mesh.vertices, mesh.faces)[0]


def run_samesh(mesh: Mesh, model: str, seed: int = 0, resolution: int = 512, mask_config=None,
               lift_config: LiftConfig | None = None, generator=None) -> SameshResult:
    """Render, run SAM-2, lift. `generator` reuses a loaded `Sam2MaskGenerator`."""
    from partverse.segment.sam2_masks import MaskConfig, Sam2MaskGenerator
    from partverse.extras import require

    torch = require("torch", "sam2")
    torch.manual_seed(seed)
    seconds = {}
    t = time.perf_counter()
    views = render_views(mesh.vertices, mesh.faces, resolution)
    seconds["render"] = time.perf_counter() - t
    generator = generator or Sam2MaskGenerator(model, mask_config or MaskConfig())
    t = time.perf_counter()
    embeddings = generator.embed(views.images)
    seconds["sam2_embed"] = time.perf_counter() - t
    t = time.perf_counter()
    masks = generator.masks(views.images, views.face_ids >= 0, embeddings)
    seconds["sam2_decode"] = time.perf_counter() - t
    t = time.perf_counter()
    pairs, areas = mesh_graph(mesh)
    labels = lift_masks(views.face_ids, masks, pairs, areas, lift_config or LiftConfig())
    seconds["lift"] = time.perf_counter() - t
    return SameshResult(labels, masks, seconds)


def samesh_labels(mesh: Mesh, model: str, seed: int = 0, **options) -> np.ndarray:
    """(F,) int64 Samesh labels of `mesh` with the SAM-2 model at `model` (path or hub id)."""
    return run_samesh(mesh, model, seed=seed, **options).labels
