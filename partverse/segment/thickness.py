"""Shape diameter function (Shapira et al. 2008): per-face local thickness from rays cast inward.

For every face, `rays` rays leave the centroid, the inward normal and rays - 1 more on a cone around
it (default: the normal alone, as good on the Princeton benchmark as 7 rays at a seventh of the
casting time; the smoothing below does the averaging); the face's diameter is the median distance
to the first hit (rays that escape, e.g. on open or inverted surface, are ignored; a face with no
hit takes its neighbours' value). The log-diameter is then smoothed over the dual graph, so it is
a property of the local volume (a limb, a finger, a handle) and changes where two volumes of
different thickness meet. Ray casting uses embree (`render` extra).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from partverse.geometry.normalize import bounding_box
from partverse.segment.facegraph import FaceGraph


def _cone_directions(normals: np.ndarray, rays: int, half_angle: float) -> np.ndarray:
    """(F, rays, 3) unit directions: the inward normal and rays-1 spread on a cone around it."""
    inward = -normals
    helper = np.where(np.abs(inward[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    u = np.cross(inward, helper)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-30)
    v = np.cross(inward, u)
    phi = 2.0 * np.pi * np.arange(rays - 1) / max(rays - 1, 1)
    s, c = np.sin(half_angle), np.cos(half_angle)
    around = np.cos(phi)[None, :, None] * u[:, None, :] + np.sin(phi)[None, :, None] * v[:, None, :]
    ring = c * inward[:, None, :] + s * around
    return np.concatenate([inward[:, None, :], ring], axis=1)


class CastDiameters(NamedTuple):
    """Per-face diameters straight from the rays, before smoothing: (F,) log diameter (0 where
    unknown), (F,) bool known, and the log of the bounding-box diagonal (the fallback)."""

    log_d: np.ndarray
    known: np.ndarray
    log_diagonal: float


def shape_diameter(vertices: np.ndarray, faces: np.ndarray, graph: FaceGraph, rays: int = 1, half_angle: float = 0.5,
                   smooth_steps: int = 4) -> np.ndarray:
    """(F,) float64 log shape diameter per face of (V, 3) vertices / (F, 3) faces, smoothed over
    `graph` (their dual graph); log(bounding-box diagonal) where no ray of any nearby face hits."""
    cast = cast_diameters(vertices, faces, graph.centroids, graph.normals, rays, half_angle)
    return smooth_diameters(graph, cast, smooth_steps)


def cast_diameters(vertices: np.ndarray, faces: np.ndarray, centroids: np.ndarray, normals: np.ndarray,
                   rays: int = 1, half_angle: float = 0.5) -> CastDiameters:
    """The rays of `shape_diameter` from (F, 3) face centroids along (F, 3) unit face normals
    (`facegraph.face_geometry`), without the dual graph: so they can be cast while the graph is
    built (`geometric_hierarchy` runs this in a background thread)."""
    from partverse.render.faceid import RayScene

    if not isinstance(rays, int) or rays < 1:
        raise ValueError(f"shape_diameter: rays = {rays!r}: must be a positive integer")

    vertices = np.asarray(vertices, dtype=np.float64)
    n = len(centroids)
    lo, hi = bounding_box(vertices)
    diagonal = float(np.linalg.norm(hi - lo)) or 1.0
    scene = RayScene(vertices, faces)
    dirs = -normals if rays == 1 else _cone_directions(normals, rays, half_angle).reshape(-1, 3)
    origins = (centroids if rays == 1 else np.repeat(centroids, rays, axis=0)) + dirs * (1e-5 * diagonal)
    hit, _, t = scene.cast(origins, dirs)
    # a ray that meets the surface from its front (hit normal facing the ray) escaped the volume
    ok = hit >= 0
    ok[ok] &= np.einsum("ij,ij->i", normals[hit[ok]], dirs[ok]) > 0
    if rays == 1:
        diameter = np.where(ok, t, np.nan)
    else:
        with warnings.catch_warnings():  # faces whose rays all escaped: NaN, filled below
            warnings.simplefilter("ignore", RuntimeWarning)
            diameter = np.nanmedian(np.where(ok, t, np.nan).reshape(n, rays), axis=1)
    known = np.isfinite(diameter) & (diameter > 0)
    log_d = np.where(known, np.log(np.maximum(np.where(known, diameter, 1.0), 1e-9 * diagonal)), 0.0)
    return CastDiameters(log_d, known, float(np.log(diagonal)))


def smooth_diameters(graph: FaceGraph, cast: CastDiameters, smooth_steps: int = 4) -> np.ndarray:
    """(F,) smoothed log shape diameter from `cast_diameters` over `graph` (see `_smooth`)."""
    return _smooth(graph, cast.log_d, cast.known.astype(np.float64), smooth_steps, cast.log_diagonal)


def _smooth(graph: FaceGraph, value: np.ndarray, weight: np.ndarray, steps: int, fallback: float) -> np.ndarray:
    """Area-weighted neighbour averaging over the dual graph; faces without a value are filled.

    `steps` rounds of each face plus its neighbours, over the numerator and denominator. Faces
    still without a value after that (isolated pieces of open or inverted surface) are flooded
    from known neighbours, one ring per round, until none is left, a round fills none (faces no
    known value reaches) or 20 rounds have run; those left take `fallback`. One compiled loop
    (`thickness_kernels`)."""
    from partverse.segment.thickness_kernels import smooth_fill

    adj = graph.adjacency()
    w = weight * graph.areas
    num, den = np.ascontiguousarray(value * w, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64)
    smooth_fill(adj.indptr, adj.indices, adj.data, num, den, int(steps), 20)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), fallback)
