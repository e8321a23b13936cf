"""Encode objects with a frozen VAE into the DiT's training tensors (part latents and box tokens)."""
from __future__ import annotations

import numpy as np
import torch

from partverse.train.batches import ObjectLatents, box_points, largest_indices, object_points
from partverse.train.data import TrainObject


@torch.no_grad()
def encode_points(vae, points: np.ndarray, normals: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(K, S, 3) x2 -> posterior means (K, M, D) float32."""
    out = []
    for s in range(0, len(points), chunk):
        mean, _ = vae.encode(torch.as_tensor(points[s:s + chunk]), torch.as_tensor(normals[s:s + chunk]))
        out.append(mean.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, vae.cfg.num_latents, vae.cfg.latent_dim), np.float32)


def encode_boxes(vae, boxes: np.ndarray, count: int) -> np.ndarray:
    """(K, 2, 3) boxes -> box tokens (K, M, D): the VAE encoding of each box's surface (CoPart §3.2)."""
    pts, nrm = box_points(boxes, count)
    return encode_points(vae, pts, nrm)


def object_boxes(obj: TrainObject) -> np.ndarray:
    return np.stack([np.stack([p.bbox_min, p.bbox_max]) for p in obj.parts]).astype(np.float32)


def encode_objects(vae, objects: list[TrainObject], max_parts: int, enc_points: int, global_branch: bool,
                   scale: float | None = None, text_encoder=None) -> tuple[ObjectLatents, float]:
    """Objects -> ObjectLatents with latents divided by `scale` (their std when None) and the scale.
    text_encoder (`partverse.train.text.TextEncoder`): also embed each slot's caption (once per
    distinct string) into the store's caption table."""
    slots = max_parts + (1 if global_branch else 0)
    m, d = vae.cfg.num_latents, vae.cfg.latent_dim
    lat = np.zeros((len(objects), slots, m, d), np.float32)
    box = np.zeros_like(lat)
    mask = np.zeros((len(objects), slots), bool)
    boxes = np.zeros((len(objects), slots, 2, 3), np.float32)
    slot_text: list[list[str]] = []
    for i, obj in enumerate(objects):
        keep = largest_indices(obj.parts, max_parts)
        parts = [obj.parts[k] for k in keep]
        n = len(parts)
        if text_encoder is not None:
            from partverse.train.text import slot_captions

            caps = [obj.captions[k] for k in keep] if len(obj.captions) == len(obj.parts) else []
            slot_text.append(slot_captions(caps, obj.caption, slots, global_branch))
        pts = np.stack([p.points[:enc_points] for p in parts])
        nrm = np.stack([p.normals[:enc_points] for p in parts])
        b = np.stack([np.stack([p.bbox_min, p.bbox_max]) for p in parts])
        if global_branch:
            gp, gn = object_points(obj, enc_points, seed=i)
            pts, nrm = np.concatenate([pts, gp[None]]), np.concatenate([nrm, gn[None]])
            b = np.concatenate([b, np.stack([b[:, 0].min(0), b[:, 1].max(0)])[None]])
        rows = list(range(n)) + ([slots - 1] if global_branch else [])
        lat[i, rows] = encode_points(vae, pts, nrm)
        box[i, rows] = encode_boxes(vae, b, enc_points)
        mask[i, rows] = True
        boxes[i, rows] = b
    if scale is None:
        scale = float(lat[mask].std()) or 1.0
    store = ObjectLatents(lat / scale, box / scale, mask, boxes)
    if text_encoder is not None:
        table = sorted({c for row in slot_text for c in row})
        row_of = {c: k for k, c in enumerate(table)}
        store.text, store.text_mask = text_encoder.embed(table)
        store.text_ids = np.array([[row_of[c] for c in row] for row in slot_text], np.int64).reshape(len(objects), slots)
    return store, scale
