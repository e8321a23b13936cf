"""Render one labelled object: views of the whole, visible part pixels per view, best view per
part, part-centric renders, highlight composites, part facts.

    out = render_object(uid, mesh, face_labels, part_names, RenderConfig())
    out.visible_pixels   # (V, P) int64 pixels of part p visible in view v of the whole
    out.parts[i].best_view, .box, .composite_png, .part_png, .facts

`face_labels` (F,) int: part label per face (-1 = unlabelled); parts are the labels >= 0 present.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from partverse.errors import ConfigError, PartverseError
from partverse.records import Mesh
from partverse.render.cameras import Camera, fit_radius, icosahedron_views, orbit_views
from partverse.render.composite import HighlightStyle, compose
from partverse.render.facts import part_facts
from partverse.render.faceid import RayScene
from partverse.render.shading import Shader
from partverse.render.visibility import best_views, mask_box, pixel_labels

_LAYOUTS = ("orbit", "icosahedron")


@dataclass(frozen=True)
class RenderConfig:
    """views: number of orbit views (icosahedron is always 12); resolution: pixels of every
    render (visibility counts are at this resolution); fov_deg: field of view."""

    layout: str = "orbit"
    views: int = 8
    elevation_deg: float = 20.0
    fov_deg: float = 40.0
    resolution: int = 512
    smooth_normals: bool = True
    fallback_views: bool = True  # parts seen in no view get a second pass from 12 icosahedron views
    style: HighlightStyle = field(default_factory=HighlightStyle)

    def __post_init__(self) -> None:
        if self.layout not in _LAYOUTS:
            raise ConfigError(f"RenderConfig.layout: {self.layout!r}; allowed: {', '.join(_LAYOUTS)}")
        if self.views < 1:
            raise ConfigError(f"RenderConfig.views: {self.views}; must be >= 1")
        if not 16 <= self.resolution <= 4096:
            raise ConfigError(f"RenderConfig.resolution: {self.resolution}; must be in [16, 4096]")

    def cameras(self, lo: np.ndarray, hi: np.ndarray, layout: str | None = None) -> list[Camera]:
        centre = tuple(float(c) for c in (lo + hi) / 2)
        if (layout or self.layout) == "icosahedron":
            radius = fit_radius(lo, hi, 60.0)
            return icosahedron_views(radius, 60.0, self.resolution, centre)
        radius = fit_radius(lo, hi, self.fov_deg)
        return orbit_views(self.views, radius, self.elevation_deg, self.fov_deg, self.resolution, centre)


@dataclass(slots=True, eq=False)
class PartView:
    part_id: int
    name: str
    best_view: int  # index into ObjectRenders.views, -1 = never visible
    visible_pixels: int  # in the best view
    share: float  # visible part pixels / object pixels in the best view
    box: np.ndarray | None  # (4,) int64 [x0, y0, x1, y1) in the best view's pixels
    part_png: bytes  # the part alone, seen from the best view's direction
    composite_png: bytes  # what the VLM sees
    facts: dict


@dataclass(slots=True, eq=False)
class ObjectRenders:
    uid: str
    views: list[Camera]
    object_png: list[bytes]  # one RGBA PNG per view
    object_pixels: np.ndarray  # (V,) int64
    visible_pixels: np.ndarray  # (V, P) int64, P = len(parts)
    parts: list[PartView]
    object_view: int  # the view with the most object pixels (used for the whole-object caption)
    object_image_png: bytes = b""  # that view on the style's background at tile size: what the VLM sees
    facts: dict = field(default_factory=dict)


def png_bytes(image) -> bytes:
    """PIL image or (H, W, C) uint8 array -> PNG bytes."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def submesh(mesh: Mesh, face_mask: np.ndarray) -> Mesh:
    """The faces face_mask (F,) bool of `mesh` with only the vertices they use (materials kept)."""
    faces = mesh.faces[face_mask]
    used, inverse = np.unique(faces.ravel(), return_inverse=True)
    return Mesh(
        vertices=mesh.vertices[used],
        faces=inverse.reshape(-1, 3).astype(np.int64),
        face_artist_part=mesh.face_artist_part[face_mask],
        face_material=mesh.face_material[face_mask],
        artist_parts=mesh.artist_parts,
        materials=mesh.materials,
        uv=None if mesh.uv is None else mesh.uv[used],
        vertex_colors=None if mesh.vertex_colors is None else mesh.vertex_colors[used],
        source=mesh.source,
    )


def render_shaded(mesh: Mesh, camera: Camera, scene: RayScene | None = None, smooth: bool = True):
    """(RGBA (H, W, 4) uint8, FaceIdRender) of `mesh` from `camera` with the ray caster."""
    scene = scene or RayScene(mesh.vertices, mesh.faces)
    r = scene.render(camera)
    return Shader(mesh).shade(r, scene.normals(camera, r, smooth=smooth), camera), r


def part_camera(view: Camera, lo: np.ndarray, hi: np.ndarray) -> Camera:
    """A camera looking at the box [lo, hi] from the direction of `view`, framing it."""
    centre = (lo + hi) / 2
    d = np.asarray(view.position) - np.asarray(view.target)
    d = d / np.linalg.norm(d)
    radius = fit_radius(lo, hi, view.fov_deg)
    return Camera(tuple(centre + radius * d), tuple(centre), view.up, view.fov_deg, view.width, view.height, view.name + "-part")


def _render_views(scene: RayScene, shader: Shader, cams: list[Camera], dense: np.ndarray, num_parts: int, config: RenderConfig):
    """Shaded images, per-pixel part maps, (V, P) visible part pixels and (V,) object pixels."""
    images, label_maps = [], []
    counts = np.zeros((len(cams), num_parts), dtype=np.int64)
    obj_px = np.zeros(len(cams), dtype=np.int64)
    for v, cam in enumerate(cams):  # a handful of views; each is vectorized over pixels
        r = scene.render(cam)
        images.append(shader.shade(r, scene.normals(cam, r, smooth=config.smooth_normals), cam))
        lab = pixel_labels(r.face_id, dense)
        counts[v] = np.bincount(lab[lab >= 0], minlength=num_parts)
        obj_px[v] = int((r.face_id >= 0).sum())
        label_maps.append(lab)
    return images, label_maps, counts, obj_px


def render_object(uid: str, mesh: Mesh, face_labels: np.ndarray, part_names: dict[int, str] | None = None, config: RenderConfig = RenderConfig()) -> ObjectRenders:
    """See the module docstring."""
    face_labels = np.asarray(face_labels, dtype=np.int64)
    if face_labels.shape != (mesh.num_faces,):
        raise PartverseError(f"{uid}: face_labels has shape {face_labels.shape}, the mesh has {mesh.num_faces} faces")
    part_ids = np.unique(face_labels[face_labels >= 0])
    if len(part_ids) == 0:
        raise PartverseError(f"{uid}: no labelled faces (all face_labels are -1)")
    names = part_names or {}
    dense = np.full(mesh.num_faces, -1, dtype=np.int64)
    dense[face_labels >= 0] = np.searchsorted(part_ids, face_labels[face_labels >= 0])
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    cams = config.cameras(lo, hi)
    scene, shader = RayScene(mesh.vertices, mesh.faces), Shader(mesh)
    images, label_maps, counts, obj_px = _render_views(scene, shader, cams, dense, len(part_ids), config)
    if config.fallback_views and config.layout != "icosahedron" and (counts.max(axis=0) == 0).any():
        extra = [Camera(c.position, c.target, c.up, c.fov_deg, c.width, c.height, "fallback-" + c.name) for c in config.cameras(lo, hi, "icosahedron")]
        more = _render_views(scene, shader, extra, dense, len(part_ids), config)
        cams = cams + extra
        images, label_maps = images + more[0], label_maps + more[1]
        counts, obj_px = np.concatenate([counts, more[2]]), np.concatenate([obj_px, more[3]])
    pngs = [png_bytes(im) for im in images]
    primary = len(cams) if config.layout == "icosahedron" else config.views
    best = best_views(counts[:primary], obj_px[:primary])
    if len(cams) > primary:  # fallback views only for the parts no primary view shows
        extra_best = best_views(counts[primary:], obj_px[primary:])
        best = np.where((best < 0) & (extra_best >= 0), extra_best + primary, best)
    parts = []
    for i, pid in enumerate(part_ids):  # one part-centric render per part
        face_mask = dense == i
        v = int(best[i])
        sub = submesh(mesh, face_mask)
        view = cams[v if v >= 0 else int(np.argmax(obj_px))]
        part_rgba, _ = render_shaded(sub, part_camera(view, sub.vertices.min(0), sub.vertices.max(0)), smooth=config.smooth_normals)
        mask = label_maps[v] == i if v >= 0 else np.zeros(images[0].shape[:2], bool)
        composite = compose(images[v if v >= 0 else 0], mask, part_rgba, config.style)
        parts.append(
            PartView(
                part_id=int(pid),
                name=str(names.get(int(pid), "")),
                best_view=v,
                visible_pixels=int(counts[v, i]) if v >= 0 else 0,
                share=float(counts[v, i] / max(obj_px[v], 1)) if v >= 0 else 0.0,
                box=mask_box(mask),
                part_png=png_bytes(part_rgba),
                composite_png=png_bytes(composite),
                facts=part_facts(mesh, face_mask, str(names.get(int(pid), "")), part_rgba),
            )
        )
    object_view = int(np.argmax(obj_px[:primary]))
    facts = part_facts(mesh, np.ones(mesh.num_faces, bool), "", images[object_view])
    facts["num_parts"] = int(len(part_ids))
    facts["part_names"] = [p.name for p in parts if p.name]
    facts["name"] = str(mesh.metadata.get("name", "")) or Path(mesh.source).stem
    plain = HighlightStyle(**{**asdict(config.style), "mark": "none", "layout": "object_only", "dim_rest": 0.0, "tint": 0.0})
    whole = png_bytes(compose(images[object_view], np.zeros(images[object_view].shape[:2], bool), None, plain))
    return ObjectRenders(uid, cams, pngs, obj_px, counts, parts, object_view, whole, facts)
