"""From latents to meshes: decode occupancy on a grid over [-1, 1]^3, marching cubes (scikit-image),
and assembly of part meshes into one GLB (one node per part)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from partverse.extras import require


def grid_points(resolution: int) -> np.ndarray:
    """(R^3, 3) float32 corner-aligned samples of [-1, 1]^3 in (x, y, z) 'ij' order."""
    axis = np.linspace(-1.0, 1.0, resolution, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def decode_grid(vae, latents, resolution: int = 64, chunk: int = 32768) -> np.ndarray:
    """latents (B, M, D) torch -> occupancy logits (B, R, R, R) on `grid_points(R)`."""
    import torch

    pts = torch.from_numpy(grid_points(resolution))
    out = []
    with torch.no_grad():
        tokens = vae.latent_tokens(latents)
        for s in range(0, len(pts), chunk):
            q = pts[s:s + chunk].expand(len(latents), -1, -1)
            out.append(vae.query(tokens, q).float())
    return torch.cat(out, dim=1).view(len(latents), resolution, resolution, resolution).numpy()


def marching_cubes(logits: np.ndarray, level: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(R, R, R) logits -> vertices (V, 3) in [-1, 1], faces (F, 3); empty arrays when no surface."""
    measure = require("skimage.measure", "train")
    r = logits.shape[0]
    if not (logits.min() < level < logits.max()):
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    padded = np.pad(logits, 1, constant_values=min(float(logits.min()), level - 1.0))  # closes open borders
    verts, faces, _, _ = measure.marching_cubes(padded, level=level)
    verts = (verts - 1) * (2.0 / (r - 1)) - 1.0
    return verts.astype(np.float32), faces[:, ::-1].astype(np.int64)  # outward-facing winding


def write_glb(meshes: list[tuple[np.ndarray, np.ndarray]], path: str | Path, names: list[str] | None = None) -> Path:
    """Assemble part meshes into one GLB, one named node per part (empty parts are skipped)."""
    import trimesh

    scene = trimesh.Scene()
    for i, (v, f) in enumerate(meshes):
        if len(f):
            scene.add_geometry(trimesh.Trimesh(v, f, process=False), node_name=(names or [])[i] if names else f"part_{i}",
                               geom_name=f"part_{i}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.glb")
    tmp.write_bytes(scene.export(file_type="glb"))
    tmp.replace(path)
    return path
