"""Shaded renders with the ray caster: base colour (factor x texture at the hit's UV, or vertex
colours) under a simple headlight + key light, from the same face-id render the visibility
counts use (so a shaded pixel and its face id always agree).

    scene = RayScene(mesh.vertices, mesh.faces)
    shader = Shader(mesh)                       # caches textures as float arrays
    r = scene.render(camera)
    rgba = shader.shade(r, scene.normals(camera, r, smooth=True), camera)  # (H, W, 4) uint8

Why the ray caster and not Blender for shaded views: it reuses the face-id render (one BVH, one
ray cast per view; the visibility counts and the shaded image come from the same hits), it is
several times faster than Cycles at the same resolution on CPU (see benchmarks/render_speed.py),
and it needs no 800 MB bpy install. Base colour is what the VLM needs to name a part's colour
and material; PBR effects (metal, roughness, normal maps) are not modelled.
"""
from __future__ import annotations

import numpy as np

from partverse.records import Mesh
from partverse.render.cameras import Camera
from partverse.render.faceid import FaceIdRender

_DEFAULT_COLOUR = np.array([0.8, 0.8, 0.8, 1.0])


def _texture_array(image) -> np.ndarray:
    """PIL image -> (h, w, 4) float32 in [0, 1]."""
    return np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0


def sample_bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """texture (h, w, C) float, uv (N, 2) in OpenGL convention (v up, repeat wrap) -> (N, C)."""
    h, w = texture.shape[:2]
    u = np.mod(uv[:, 0], 1.0) * w - 0.5
    v = np.mod(1.0 - np.mod(uv[:, 1], 1.0), 1.0) * h - 0.5
    x0, y0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = (u - x0)[:, None], (v - y0)[:, None]
    x0m, x1m = np.mod(x0, w), np.mod(x0 + 1, w)
    y0m, y1m = np.mod(y0, h), np.mod(y0 + 1, h)
    top = texture[y0m, x0m] * (1 - fx) + texture[y0m, x1m] * fx
    bot = texture[y1m, x0m] * (1 - fx) + texture[y1m, x1m] * fx
    return top * (1 - fy) + bot * fy


class Shader:
    """Per-pixel base colour of a `Mesh` from a face-id render, then Lambert lighting."""

    def __init__(self, mesh: Mesh, ambient: float = 0.35):
        self.mesh = mesh
        self.ambient = float(ambient)
        self._textures: dict[int, np.ndarray] = {}

    def _texture(self, mi: int) -> np.ndarray | None:
        mat = self.mesh.materials[mi]
        if mat.base_color_texture is None or self.mesh.uv is None:
            return None
        if mi not in self._textures:
            self._textures[mi] = _texture_array(mat.base_color_texture)
        return self._textures[mi]

    def base_colour(self, face_id: np.ndarray, barycentric: np.ndarray) -> np.ndarray:
        """face_id (N,) int >= 0, barycentric (N, 3) -> (N, 4) float RGBA base colour in [0, 1]."""
        m = self.mesh
        out = np.tile(_DEFAULT_COLOUR, (len(face_id), 1))
        corners = m.faces[face_id]  # (N, 3)
        if m.vertex_colors is not None:
            vc = m.vertex_colors[corners].astype(np.float64) / 255.0  # (N, 3, 4)
            out = np.einsum("nk,nkc->nc", barycentric, vc)
        mat_ids = m.face_material[face_id] if len(m.face_material) else np.full(len(face_id), -1)
        for mi in np.unique(mat_ids[mat_ids >= 0]):  # loop over materials, vectorized over pixels
            sel = mat_ids == mi
            colour = np.asarray(m.materials[mi].base_color_factor, dtype=np.float64)[None, :]
            tex = self._texture(int(mi))
            if tex is not None:
                uv = np.einsum("nk,nkc->nc", barycentric[sel], m.uv[corners[sel]].astype(np.float64))
                colour = colour * sample_bilinear(tex, uv)
            elif m.vertex_colors is not None:
                colour = colour * out[sel]
            out[sel] = colour
        return out

    def shade(self, render: FaceIdRender, normals: np.ndarray, camera: Camera, background=None) -> np.ndarray:
        """(H, W, 4) uint8 RGBA; alpha 255 on the object, background transparent or `background` RGB."""
        hit = render.face_id >= 0
        rgba = np.zeros(render.face_id.shape + (4,), dtype=np.float64)
        if hit.any():
            base = self.base_colour(render.face_id[hit], render.barycentric[hit].astype(np.float64))
            n = normals[hit].astype(np.float64)
            view = -camera.view_axis()
            rot = camera.rotation()
            key = rot @ np.array([0.5, 0.7, 0.5])  # upper-right-front of the camera
            key /= np.linalg.norm(key)
            light = self.ambient + (1 - self.ambient) * (0.6 * np.abs(n @ view) + 0.4 * np.clip(n @ key, 0, 1))
            rgba[hit, :3] = base[:, :3] * light[:, None]
            rgba[hit, 3] = 1.0
        out = (np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8)
        if background is not None:
            out[~hit, :3] = np.asarray(background, dtype=np.uint8)
            out[~hit, 3] = 255
        return out
