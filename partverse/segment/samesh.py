"""The Samesh method: SAM-2 masks on multi-view renders, lifted to mesh faces.

Views: 12 cameras on an icosahedron (radius 2, 60 degree field of view) around the mesh scaled to
[-1, 1]; face-id buffers and the SAM-2 input images of each modality (`sam2_images`: "normals",
"sdf" shape diameter, "shaded" base colour; default normals + sdf as in Samesh) from one embree
ray cast per view (face ids are always in [-1, F)). SAM-2 runs on every modality's images
(`sam2_masks`, batched over views, on a GPU when there is one); the masks of all modalities are
pooled per view, then lifted, linked across views, clustered and smoothed on the mesh, and
repartitioned by a graph cut (`lift`, `repartition`; on by default, `graph_cut=False` skips it).

Options of `run_samesh` / `samesh_labels` (also reachable as `segment(mesh, "samesh" | "auto",
sam2=..., **options)` and the `partverse segment --sam2-*` flags): modalities, resolution,
graph_cut, device, mask_config (`MaskConfig`), lift_config (`LiftConfig`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from partverse.records import Mesh
from partverse.segment.lift import LiftConfig, lift_masks
from partverse.segment.sam2_images import DEFAULT_MODALITIES, check_mesh, check_modalities, render_modalities, unit_frame

# The method's lifting: with the graph-cut repartition. On noisy human masks of the 19 PSB models
# (benchmarks/samesh_postprocess.py, scored against every human) it gives 12.3 segments against
# 13.3 without it, RI error 0.103 vs 0.105, ASA 0.893 vs 0.892. (Before the link ratio 0.4 and the
# joins of `lift`, stop 25: 29.8 against 50.8 segments, RI 0.191 / 0.193, ASA 0.903 both, mIoU
# 0.51, now 0.735.)
SAMESH_LIFT = LiftConfig(graph_cut=True)

__all__ = ["SAMESH_LIFT", "Views", "SameshResult", "unit_frame", "render_views", "mesh_graph", "run_samesh", "samesh_labels"]


@dataclass(slots=True)
class Views:
    """face_ids: (N, H, W) int64 (-1 background); images: (N, H, W, 3) uint8 normal maps."""

    face_ids: np.ndarray
    images: np.ndarray


@dataclass(slots=True)
class SameshResult:
    labels: np.ndarray  # (F,) int64 0..K-1
    mask_labels: np.ndarray  # (N, H, W) int64 per-view SAM-2 labels, pooled over the modalities
    seconds: dict = field(default_factory=dict)  # render / sam2_embed / sam2_decode / lift


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
               lift_config: LiftConfig | None = None, generator=None, modalities=DEFAULT_MODALITIES,
               graph_cut: bool | None = None, device: str | None = None) -> SameshResult:
    """Render, run SAM-2, lift. `generator` reuses a loaded `Sam2MaskGenerator`; `lift_config`
    defaults to `SAMESH_LIFT` (graph cut on); `graph_cut` overrides its `graph_cut`; `device`:
    "auto" (default), "cpu", "cuda[:N]"."""
    from dataclasses import replace

    from partverse.extras import require
    from partverse.segment.facegraph import build_face_graph
    from partverse.segment.sam2_masks import MaskConfig, Sam2MaskGenerator

    torch = require("torch", "sam2")
    modalities = check_modalities(modalities)
    check_mesh(mesh)
    lift_config = lift_config or SAMESH_LIFT
    if graph_cut is not None:
        lift_config = replace(lift_config, graph_cut=graph_cut)
    torch.manual_seed(seed)
    generator = generator or Sam2MaskGenerator(model, mask_config or MaskConfig(), device=device)  # fails fast
    seconds = {}
    t = time.perf_counter()
    graph = build_face_graph(mesh.vertices, mesh.faces) if ("sdf" in modalities or lift_config.graph_cut) else None
    views = render_modalities(mesh, modalities, resolution, graph=graph)
    seconds["render"] = time.perf_counter() - t
    before = dict(generator.seconds)
    masks = generator.pooled_masks([views.images[m] for m in modalities], views.face_ids >= 0)
    seconds["sam2_embed"] = generator.seconds["embed"] - before["embed"]
    seconds["sam2_decode"] = generator.seconds["decode"] - before["decode"]
    t = time.perf_counter()
    pairs, areas = mesh_graph(mesh)
    labels = lift_masks(views.face_ids, masks, pairs, areas, lift_config, graph=graph)
    seconds["lift"] = time.perf_counter() - t
    return SameshResult(labels, masks, seconds)


def samesh_labels(mesh: Mesh, model: str, seed: int = 0, **options) -> np.ndarray:
    """(F,) int64 Samesh labels of `mesh` with the SAM-2 model at `model` (path or hub id)."""
    return run_samesh(mesh, model, seed=seed, **options).labels
