"""Face-id, barycentric, depth and normal renders by ray casting with embree (embreex).

API (all vectorized over pixels; shapes use H, W = camera.height, camera.width):

    from partverse.render.cameras import icosahedron_views
    from partverse.render.faceid import RayScene, render_face_ids, render_normals

    scene = RayScene(vertices, faces)      # (V, 3) float, (F, 3) int; builds the BVH once
    r = scene.render(camera)               # or render_face_ids(vertices, faces, camera)
    r.face_id      # (H, W) int64, -1 = background, otherwise always in [0, F)
    r.barycentric  # (H, W, 3) float32 weights of the face's 3 vertices (0 on background);
                   # hit point = sum_k barycentric[..., k] * vertices[faces[face_id, k]]
    r.depth        # (H, W) float32 z-depth along the camera's view axis, +inf on background
    face_id, bary, depth = r              # it is a NamedTuple

    n = scene.normals(camera, r, smooth=False, facing=True)  # (H, W, 3) float32 world-frame unit
                   # normals, 0 on background; `facing` flips them towards the camera;
                   # smooth=True interpolates area-weighted vertex normals with the barycentrics
    normals_to_rgb(n)  # (H, W, 3) uint8, background black

Embree intersects both sides of every triangle (no back-face culling), which is what part
visibility needs for open / single-sided meshes. Degenerate (zero-area) faces are never hit.
Coordinates are recentred and scaled to a ~unit box before going to embree's float32, so
precision does not depend on the asset's units. Needs the `render` extra (embreex): rays go
through embree's C API (`embree_native`) on the libembree4 embreex's wheel bundles.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from partverse.errors import PartverseError
from partverse.extras import require
from partverse.geometry.normalize import bounding_box
from partverse.render import embree_native
from partverse.render.cameras import Camera

_CHUNK = 1 << 18  # rays per embree call (bounded memory)


class FaceIdRender(NamedTuple):
    face_id: np.ndarray  # (H, W) int64, -1 background
    barycentric: np.ndarray  # (H, W, 3) float32
    depth: np.ndarray  # (H, W) float32, inf background


class RayScene:
    """An embree scene over one triangle mesh; cast rays and render views of it.

    vertices: (V, 3) float; faces: (F, 3) int indices into vertices.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        rtcore_scene = require("embreex.rtcore_scene", "render")
        mesh_construction = require("embreex.mesh_construction", "render")
        vertices = np.asarray(vertices, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
            raise PartverseError(f"RayScene: expected (V, 3) vertices and (F, 3) faces, got {vertices.shape} and {faces.shape}")
        if len(faces) == 0:
            raise PartverseError("RayScene: the mesh has no faces")
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise PartverseError(f"RayScene: face indices outside [0, {len(vertices)})")
        if not np.isfinite(vertices).all():
            raise PartverseError("RayScene: non-finite vertex coordinates")
        self.vertices = vertices
        self.faces = faces
        lo, hi = bounding_box(vertices)
        self._origin = (lo + hi) / 2.0
        self._scale = 1.0 / max(float(np.max(hi - lo)), 1e-12)
        unit = ((vertices - self._origin) * self._scale).astype(np.float32)
        self._native = None
        if embree_native.library_path() is not None:
            self._native = embree_native.NativeScene(unit, faces)
        else:  # embreex built against an embree we cannot locate: its own (slower) scene
            self._scene = rtcore_scene.EmbreeScene()
            mesh_construction.TriangleMesh(scene=self._scene, vertices=unit, indices=faces.astype(np.int32))
        self._face_normals: np.ndarray | None = None
        self._vertex_normals: np.ndarray | None = None

    @property
    def num_faces(self) -> int:
        return int(len(self.faces))

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First hits of N rays. origins, directions: (N, 3) (directions unit length).

        Returns face ids (N,) int64 (-1 = miss), barycentric (N, 3) float32, distance t (N,)
        float64 along the ray in world units (+inf on a miss).
        """
        origins = np.asarray(origins, dtype=np.float64)
        directions = np.asarray(directions, dtype=np.float64)
        n = len(origins)
        fid = np.empty(n, dtype=np.int64)
        uv = np.empty((n, 2), dtype=np.float32)
        t = np.empty(n, dtype=np.float64)
        for s in range(0, n, _CHUNK):
            e = min(n, s + _CHUNK)
            o = ((origins[s:e] - self._origin) * self._scale).astype(np.float32)
            if self._native is not None:
                fid[s:e], uv[s:e, 0], uv[s:e, 1], tfar = self._native.cast(o, directions[s:e].astype(np.float32))
            else:
                out = self._scene.run(o, directions[s:e].astype(np.float32), output=1)
                fid[s:e], uv[s:e, 0], uv[s:e, 1], tfar = out["primID"], out["u"], out["v"], out["tfar"]
            t[s:e] = tfar / self._scale
        miss = (fid < 0) | (fid >= self.num_faces)  # never hand out an id outside [0, F)
        fid[miss] = -1
        t[miss] = np.inf
        uv[miss] = 0.0
        bary = np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1).astype(np.float32)
        bary[miss] = 0.0
        return fid, bary, t

    def render(self, camera: Camera) -> FaceIdRender:
        """Face ids, barycentrics and z-depth of one view (see the module docstring)."""
        h, w = int(camera.height), int(camera.width)
        origins, dirs = camera.rays()
        fid, bary, t = self.cast(origins, dirs)
        depth = (t * (dirs @ camera.view_axis())).astype(np.float32)  # inf * positive stays inf
        return FaceIdRender(fid.reshape(h, w), bary.reshape(h, w, 3), depth.reshape(h, w))

    def face_normals(self) -> np.ndarray:
        """(F, 3) float64 unit face normals (right-hand winding); zero for degenerate faces."""
        if self._face_normals is None:
            tri = self.vertices[self.faces]
            n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            norm = np.linalg.norm(n, axis=1, keepdims=True)
            self._face_normals = n / np.where(norm > 0, norm, 1.0)
        return self._face_normals

    def vertex_normals(self) -> np.ndarray:
        """(V, 3) float64 area-weighted vertex normals."""
        if self._vertex_normals is None:
            tri = self.vertices[self.faces]
            area_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            acc = np.zeros_like(self.vertices)
            for k in range(3):  # 3 corners, vectorized over faces
                np.add.at(acc, self.faces[:, k], area_n)
            norm = np.linalg.norm(acc, axis=1, keepdims=True)
            self._vertex_normals = acc / np.where(norm > 0, norm, 1.0)
        return self._vertex_normals

    def normals(self, camera: Camera, render: FaceIdRender | None = None, smooth: bool = False, facing: bool = True) -> np.ndarray:
        """(H, W, 3) float32 world-frame unit normals of the visible surface, 0 on background."""
        r = render if render is not None else self.render(camera)
        hit = r.face_id >= 0
        fid = r.face_id[hit]
        if smooth:
            vn = self.vertex_normals()[self.faces[fid]]  # (P, 3, 3)
            n = np.einsum("pk,pkc->pc", r.barycentric[hit].astype(np.float64), vn)
            norm = np.linalg.norm(n, axis=1, keepdims=True)
            n = n / np.where(norm > 0, norm, 1.0)
        else:
            n = self.face_normals()[fid]
        if facing:
            _, dirs = camera.rays()
            flip = np.einsum("pc,pc->p", n, dirs.reshape(-1, 3)[hit.ravel()]) > 0
            n[flip] *= -1.0
        out = np.zeros(r.face_id.shape + (3,), dtype=np.float32)
        out[hit] = n
        return out


def render_face_ids(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> FaceIdRender:
    """One-shot face-id render; build a `RayScene` yourself to render many views of one mesh."""
    return RayScene(vertices, faces).render(camera)


def render_normals(vertices: np.ndarray, faces: np.ndarray, camera: Camera, smooth: bool = False, facing: bool = True) -> np.ndarray:
    """One-shot normal render: (H, W, 3) float32 world-frame unit normals, 0 on background."""
    return RayScene(vertices, faces).normals(camera, smooth=smooth, facing=facing)


def normals_to_rgb(normals: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals -> (H, W, 3) uint8 colours (n + 1) / 2; zero normals stay black."""
    hit = np.any(normals != 0, axis=-1, keepdims=True)
    rgb = np.clip((normals + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return np.where(hit, rgb, 0).astype(np.uint8)
