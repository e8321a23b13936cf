"""Pinhole cameras and standard view sets around an object.

Conventions (used by every renderer in `partverse.render`):

- World frame: the mesh's frame (glTF: +Y up). A camera sits at `position`, looks at `target`,
  with `up` as the approximate screen-up direction.
- Camera frame (OpenGL style): +X right, +Y up, the camera looks down -Z.
- Images are (H, W) row-major, row 0 at the top; pixel (row, col) covers
  [col, col + 1) x [row, row + 1) and its ray goes through the pixel centre (col + 0.5, row + 0.5).
- `Camera.project(points)` returns (N, 2) float64 pixel coordinates (x = col, y = row, continuous,
  so a point at pixel centre (r, c) projects to (c + 0.5, r + 0.5)) and (N,) z-depth (distance
  along the viewing axis, positive in front of the camera).

View sets:

- `icosahedron_views(radius, ...)`: 12 cameras on the vertices of a regular icosahedron (Samesh's
  layout: radius 2, 60 degree field of view around a mesh normalized to [-1, 1]).
- `orbit_views(n, radius, elevation_deg, ...)`: n cameras on a ring at a fixed elevation.
- `fit_radius(bounds_min, bounds_max, fov_deg, margin)`: a distance at which a bounding sphere of the
  box fills the view (with margin), for framing a single part.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from partverse.errors import ConfigError


def _normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera. position/target/up: (3,) float64; fov_deg: vertical field of view."""

    position: tuple[float, float, float]
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_deg: float = 60.0
    width: int = 512
    height: int = 512
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.fov_deg < 180.0:
            raise ConfigError(f"Camera.fov_deg: {self.fov_deg} is not in (0, 180)")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ConfigError(f"Camera.width/height: {self.width}x{self.height}; both must be >= 1")
        if np.linalg.norm(np.subtract(self.position, self.target)) <= 0:
            raise ConfigError(f"Camera.position {self.position} equals its target")

    def with_resolution(self, width: int, height: int | None = None) -> "Camera":
        return Camera(self.position, self.target, self.up, self.fov_deg, int(width), int(height or width), self.name)

    @property
    def focal(self) -> float:
        """Focal length in pixels (same for x and y: square pixels)."""
        return 0.5 * self.height / np.tan(np.radians(self.fov_deg) / 2.0)

    def rotation(self) -> np.ndarray:
        """(3, 3) camera-to-world rotation; columns are the camera's right, up, back axes."""
        eye = np.asarray(self.position, dtype=np.float64)
        back = _normalize(eye - np.asarray(self.target, dtype=np.float64))
        up = np.asarray(self.up, dtype=np.float64)
        if abs(float(np.dot(_normalize(up), back))) > 0.999:  # looking along up: pick another up
            up = np.array([0.0, 0.0, 1.0]) if abs(back[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        right = _normalize(np.cross(up, back))
        true_up = np.cross(back, right)
        return np.stack([right, true_up, back], axis=1)

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Ray origins (H*W, 3) and unit directions (H*W, 3) through pixel centres, row-major."""
        h, w = int(self.height), int(self.width)
        cols = (np.arange(w) + 0.5 - w / 2.0) / self.focal
        rows = -(np.arange(h) + 0.5 - h / 2.0) / self.focal
        x, y = np.meshgrid(cols, rows)  # (H, W)
        cam_dirs = np.stack([x.ravel(), y.ravel(), -np.ones(h * w)], axis=1)
        dirs = _normalize(cam_dirs @ self.rotation().T)
        origins = np.broadcast_to(np.asarray(self.position, dtype=np.float64), dirs.shape)
        return origins, dirs

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """points (N, 3) -> pixel coordinates (N, 2) float64 (x = col, y = row) and z-depth (N,)."""
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position, dtype=np.float64)
        cam = rel @ self.rotation()  # (N, 3) in camera frame
        depth = -cam[:, 2]
        safe = np.where(np.abs(depth) > 1e-12, depth, 1e-12)
        x = cam[:, 0] / safe * self.focal + self.width / 2.0
        y = -cam[:, 1] / safe * self.focal + self.height / 2.0
        return np.stack([x, y], axis=1), depth

    def view_axis(self) -> np.ndarray:
        """(3,) unit vector the camera looks along (world frame)."""
        return -self.rotation()[:, 2]


def icosahedron_vertices() -> np.ndarray:
    """(12, 3) float64 unit vectors: the vertices of a regular icosahedron."""
    phi = (1.0 + 5.0**0.5) / 2.0
    v = []
    for a in (-1.0, 1.0):
        for b in (-phi, phi):
            v += [(0.0, a, b), (a, b, 0.0), (b, 0.0, a)]
    return _normalize(np.array(v, dtype=np.float64))


def icosahedron_views(
    radius: float = 2.0,
    fov_deg: float = 60.0,
    resolution: int = 512,
    target: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> list[Camera]:
    """12 cameras on an icosahedron of `radius` around `target`, all looking at it."""
    if radius <= 0:
        raise ConfigError(f"icosahedron_views radius: {radius}; must be > 0")
    t = np.asarray(target, dtype=np.float64)
    return [
        Camera(tuple(t + radius * d), tuple(t), (0.0, 1.0, 0.0), fov_deg, resolution, resolution, f"ico{i:02d}")
        for i, d in enumerate(icosahedron_vertices())
    ]


def orbit_views(
    n: int = 8,
    radius: float = 2.5,
    elevation_deg: float = 20.0,
    fov_deg: float = 40.0,
    resolution: int = 512,
    target: tuple[float, float, float] = (0.0, 0.0, 0.0),
    start_azimuth_deg: float = 45.0,
) -> list[Camera]:
    """n cameras evenly spaced in azimuth on a ring at `elevation_deg` above the XZ plane (+Y up)."""
    if n < 1:
        raise ConfigError(f"orbit_views n: {n}; must be >= 1")
    if radius <= 0:
        raise ConfigError(f"orbit_views radius: {radius}; must be > 0")
    t = np.asarray(target, dtype=np.float64)
    az = np.radians(start_azimuth_deg + 360.0 * np.arange(n) / n)
    el = np.radians(elevation_deg)
    dirs = np.stack([np.cos(el) * np.sin(az), np.full(n, np.sin(el)), np.cos(el) * np.cos(az)], axis=1)
    return [
        Camera(tuple(t + radius * d), tuple(t), (0.0, 1.0, 0.0), fov_deg, resolution, resolution, f"orbit{i:02d}")
        for i, d in enumerate(dirs)
    ]


def fit_radius(bounds_min: np.ndarray, bounds_max: np.ndarray, fov_deg: float, margin: float = 1.1) -> float:
    """Camera distance from the box centre at which the box's bounding sphere fits the view."""
    half_diag = 0.5 * float(np.linalg.norm(np.subtract(bounds_max, bounds_min)))
    half_diag = max(half_diag, 1e-6)
    return margin * half_diag / np.sin(np.radians(fov_deg) / 2.0)
