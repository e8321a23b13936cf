"""`partverse evaluate`: VAE reconstruction and DiT generation metrics (see `metrics` for definitions),
per part and for the assembled object, in the object's [-1, 1] frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from partverse.train import metrics as M
from partverse.train.data import TrainObject, TrainPart
from partverse.train.latents import encode_points, object_boxes
from partverse.train.mesh import decode_grid, marching_cubes
from partverse.train.occupancy import sample_surface

SURFACE_POINTS = 10000


def _mesh_points(v: np.ndarray, f: np.ndarray, seed: int = 0) -> np.ndarray:
    return sample_surface(v, f, SURFACE_POINTS, np.random.default_rng(seed))[0] if len(f) else np.zeros((0, 3))


def _ref_grid(part: TrainPart, resolution: int, thickness: float) -> np.ndarray:
    return M.mesh_occupancy_grid(part.vertices, part.faces, resolution, thickness)


def _score(pred_grids, pred_meshes, parts: list[TrainPart], resolution: int, thickness: float) -> dict:
    """Per-part and assembled metrics of predicted grids (n, R, R, R) bool / meshes vs reference parts."""
    per_part, ref_union, pred_union, ref_pts, pred_pts = [], None, None, [], []
    for grid, (v, f), part in zip(pred_grids, pred_meshes, parts):
        ref = _ref_grid(part, resolution, thickness)
        pts = _mesh_points(v, f)
        row = {"iou": M.iou(grid, ref), **M.surface_metrics(pts, part.points),
               "box_fit": M.box_fit(pts, part.bbox_min, part.bbox_max)}
        per_part.append(row)
        ref_union = ref if ref_union is None else ref_union | ref
        pred_union = grid if pred_union is None else pred_union | grid
        ref_pts.append(part.points)
        pred_pts.append(pts)
    obj = {"iou": M.iou(pred_union, ref_union),
           **M.surface_metrics(np.concatenate(pred_pts), np.concatenate(ref_pts))}
    return {"parts": per_part, "object": obj}


def reconstruct(vae, parts: list[TrainPart], resolution: int = 64, points: int = 512):
    """Encode parts (posterior mean) and decode: -> (grids (n, R, R, R) bool, meshes)."""
    lat = encode_points(vae, np.stack([p.points[:points] for p in parts]), np.stack([p.normals[:points] for p in parts]))
    logits = decode_grid(vae, torch.from_numpy(lat), resolution)
    return logits > 0, [marching_cubes(g) for g in logits]


def evaluate_vae(vae, objects: list[TrainObject], resolution: int = 64, thickness: float = 0.01,
                 points: int = 512) -> dict:
    rows = [_score(*reconstruct(vae, o.parts, resolution, points), o.parts, resolution, thickness) for o in objects]
    return _summarise(rows, [o.uid for o in objects])


def evaluate_generation(dit, vae, scale: float, objects: list[TrainObject], steps: int = 50, guidance: float = 1.0,
                        resolution: int = 64, thickness: float = 0.01, seed: int = 0, text_encoder=None) -> dict:
    """Generate each object's parts given its reference boxes (and, with a text encoder, its captions);
    compare with the reference parts."""
    from partverse.train.sample import generate

    rows = []
    for i, obj in enumerate(objects):
        caps = (obj.captions if len(obj.captions) == len(obj.parts) else None) if text_encoder else None
        lat = generate(dit, vae, scale, object_boxes(obj), steps=steps, guidance=guidance, seed=seed + i,
                       captions=caps, object_caption=obj.caption if text_encoder else "", text_encoder=text_encoder)
        logits = decode_grid(vae, torch.from_numpy(lat), resolution)
        rows.append(_score(logits > 0, [marching_cubes(g) for g in logits], obj.parts, resolution, thickness))
    return _summarise(rows, [o.uid for o in objects])


def _summarise(rows: list[dict], uids: list[str]) -> dict:
    """Means over parts and objects. A prediction without surface (nothing decoded inside its box) has
    no Chamfer distance (inf in `metrics`): the Chamfer means are over the predictions that have one,
    `empty_parts` / `empty_objects` count the others (their IoU, F-scores and box fit count, as 0), and
    per-part rows say null there, so that the report is strict JSON."""
    part_rows = [r for row in rows for r in row["parts"]]
    object_rows = [r["object"] for r in rows]

    def means(items: list[dict]) -> dict:
        out = {}
        for key in (list(items[0]) if items else []):
            values = np.array([r[key] for r in items], dtype=np.float64)
            values = values[np.isfinite(values)]
            out[key] = float(values.mean()) if len(values) else None
        return out

    def empty(items: list[dict]) -> int:
        return sum(not np.isfinite(r["chamfer_l2"]) for r in items)

    def strict(row: dict) -> dict:
        return {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in row.items()}

    return {"part_mean": means(part_rows), "object_mean": means(object_rows),
            "empty_parts": empty(part_rows), "empty_objects": empty(object_rows), "num_parts": len(part_rows),
            "objects": [{"uid": u, "parts": [strict(r) for r in row["parts"]], "object": strict(row["object"])}
                        for u, row in zip(uids, rows)]}


def evaluate_checkpoint(ckpt: str | Path, data_cfg, steps: int = 50, guidance: float = 1.0, resolution: int = 64) -> dict:
    """The checkpoint's kind decides: a VAE is scored on reconstruction, a DiT on generation."""
    from partverse.train.data import load_objects
    from partverse.train.pretrained import load_dit, load_vae, run_config

    objects = load_objects(data_cfg)
    if run_config(ckpt).kind == "vae":
        return {"kind": "vae", **evaluate_vae(load_vae(ckpt), objects, resolution, data_cfg.thickness)}
    dit, vae, meta = load_dit(ckpt)
    encoder = None
    if dit.text_in is not None:
        from partverse.train.text import TextEncoder

        encoder = TextEncoder(dit.cfg.text_encoder, dit.cfg.text_tokens)
    return {"kind": "dit", **evaluate_generation(dit, vae, meta["latent_scale"], objects, steps, guidance, resolution,
                                                 data_cfg.thickness, text_encoder=encoder)}
