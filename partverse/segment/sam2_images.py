"""The images SAM-2 sees in the Samesh method, one set per modality, with their face-id buffers.

Views: 12 cameras on an icosahedron (radius 2, 60 degree field of view) around the mesh scaled to
[-1, 1]; one embree ray cast per view gives the face-id buffer (ids always in [-1, F)) that every
modality's image is computed from, so an image pixel and its face id always agree.

Modalities (`MODALITIES`):
- "normals": world-frame face normals turned towards the camera, as (n + 1) / 2 colours.
- "sdf": the per-face shape diameter (`partverse.segment.thickness`, log scale, smoothed) jet
  colour-mapped per view over the faces that view sees (as Samesh does).
- "shaded": base colour (material factor x texture at the hit's UV, or vertex colours; grey
  without either) under a headlight + key light (`partverse.render.shading`).
Background pixels are black in every modality.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partverse.errors import ConfigError, PartverseError
from partverse.geometry.normalize import bounding_box
from partverse.records import Mesh

MODALITIES = ("normals", "sdf", "shaded")
DEFAULT_MODALITIES = ("normals", "sdf")  # Samesh's two image kinds


@dataclass(slots=True)
class ModalViews:
    """face_ids: (N, H, W) int64 (-1 background); images: modality -> (N, H, W, 3) uint8."""

    face_ids: np.ndarray
    images: dict[str, np.ndarray]


def check_modalities(modalities) -> tuple[str, ...]:
    """The modalities as a tuple, refusing unknown, repeated or no modalities (ConfigError)."""
    if isinstance(modalities, str):
        modalities = tuple(m.strip() for m in modalities.split(",") if m.strip())
    modalities = tuple(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown or len(set(modalities)) != len(modalities):
        raise ConfigError(f"modalities = {modalities!r}: must be one or more distinct of {', '.join(MODALITIES)}")
    return modalities


def check_mesh(mesh: Mesh) -> None:
    """PartverseError naming the problem when `mesh` cannot be rendered (no faces, non-finite
    vertices, face indices outside the vertices)."""
    faces = np.asarray(mesh.faces)
    if faces.ndim != 2 or faces.shape[1:] != (3,) or len(faces) == 0:
        raise PartverseError(f"samesh: the mesh has no faces (faces array of shape {faces.shape})")
    if faces.min() < 0 or faces.max() >= len(mesh.vertices):
        raise PartverseError(f"samesh: face indices span [{faces.min()}, {faces.max()}], outside the {len(mesh.vertices)} vertices")
    if not np.isfinite(mesh.vertices).all():
        raise PartverseError("samesh: the mesh has non-finite vertex coordinates")


def unit_frame(vertices: np.ndarray) -> np.ndarray:
    """(V, 3) vertices centred on their bounding box and scaled so the longest side spans [-1, 1]."""
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = bounding_box(v)
    return (v - (lo + hi) / 2.0) / max(float((hi - lo).max()) / 2.0, 1e-12)


def jet(values: np.ndarray) -> np.ndarray:
    """(...,) floats in [0, 1] -> (..., 3) uint8 jet colours (blue, cyan, yellow, red)."""
    x = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)[..., None]
    rgb = np.clip(1.5 - np.abs(4.0 * x - np.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def sdf_image(face_ids: np.ndarray, face_value: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: (F,) per-face values jet-mapped over the range this (H, W) view sees."""
    hit = face_ids >= 0
    out = np.zeros(face_ids.shape + (3,), dtype=np.uint8)
    if hit.any():
        seen = face_value[face_ids[hit]]
        lo, hi = float(seen.min()), float(seen.max())
        out[hit] = jet((seen - lo) / (hi - lo) if hi > lo else np.full(len(seen), 0.5))
    return out


def face_shape_diameter(vertices: np.ndarray, faces: np.ndarray, graph=None) -> np.ndarray:
    """(F,) float64 smoothed log shape diameter of (V, 3) vertices / (F, 3) faces; `graph`, when
    given, must be their dual graph in the same frame (its face centres are the rays' origins)."""
    from partverse.segment.facegraph import build_face_graph
    from partverse.segment.thickness import shape_diameter

    graph = graph if graph is not None else build_face_graph(vertices, faces)
    return shape_diameter(vertices, faces, graph)


def render_modalities(mesh: Mesh, modalities=DEFAULT_MODALITIES, resolution: int = 512, graph=None) -> ModalViews:
    """Face-id buffers and one image set per modality from the 12 icosahedron views of `mesh`.
    `graph`: its `FaceGraph` (`build_face_graph(mesh.vertices, mesh.faces)`, in the mesh's own
    frame) when already built; the sdf modality needs one. The shape diameters are cast in that
    frame: the views' unit frame only shifts the log diameters, which each view's colour map
    takes out."""
    from partverse.render.cameras import icosahedron_views
    from partverse.render.faceid import RayScene, normals_to_rgb

    modalities = check_modalities(modalities)
    check_mesh(mesh)
    if not isinstance(resolution, int) or resolution < 8:
        raise ConfigError(f"resolution = {resolution!r}: must be an integer >= 8")
    vertices = unit_frame(mesh.vertices)
    scene = RayScene(vertices, mesh.faces)
    sdf = face_shape_diameter(mesh.vertices, mesh.faces, graph) if "sdf" in modalities else None
    shader = None
    if "shaded" in modalities:
        from partverse.render.shading import Shader

        shader = Shader(mesh)
    ids, images = [], {m: [] for m in modalities}
    for camera in icosahedron_views(radius=2.0, fov_deg=60.0, resolution=resolution):  # 12 views
        render = scene.render(camera)
        ids.append(render.face_id)
        if "normals" in images:
            images["normals"].append(normals_to_rgb(scene.normals(camera, render)))
        if sdf is not None:
            images["sdf"].append(sdf_image(render.face_id, sdf))
        if shader is not None:
            rgba = shader.shade(render, scene.normals(camera, render, smooth=True), camera)
            images["shaded"].append(np.where(rgba[..., 3:] > 0, rgba[..., :3], 0).astype(np.uint8))
    return ModalViews(np.stack(ids).astype(np.int64), {m: np.stack(v) for m, v in images.items()})
