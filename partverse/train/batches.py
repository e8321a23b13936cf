"""Training tensors and batches.

A batch is a pure function of (seed, step): every rank builds the same global batch (indices,
subsets, noise) and keeps its slice, so resume is exact and DDP with W ranks sees exactly the data
of one process with the same global batch.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partverse.train.data import TrainObject, TrainPart
from partverse.train.occupancy import box_surface, occupancy


LABELS_VERSION = 2  # part of the label-cache key: 2 = thickness test on a dense surface sample


@dataclass
class PartLabels:
    """Stacked per-part arrays for K parts: points / normals (K, S, 3); volume / near queries
    (K, Q, 3) with occupancy (K, Q) in {0, 1}; box_lo / box_hi (K, 3): outside this box (the part's
    bounding box grown by the thickness) every point is outside the part, so free-space queries there
    need no label computation."""

    points: np.ndarray
    normals: np.ndarray
    vol_q: np.ndarray
    vol_occ: np.ndarray
    near_q: np.ndarray
    near_occ: np.ndarray
    box_lo: np.ndarray | None = None
    box_hi: np.ndarray | None = None


def _part_labels(part: TrainPart, count: int, sigma: float, thickness: float, seed: int):
    if part.vertices is None or part.faces is None:
        raise ValueError(f"part {part.name!r} has no mesh: occupancy labels need one")
    rng = np.random.default_rng(seed)
    half = count // 2
    pad = 0.05 + 0.1 * (part.bbox_max - part.bbox_min)
    vol = np.concatenate([rng.uniform(-1, 1, (count - half, 3)),
                          rng.uniform(part.bbox_min - pad, part.bbox_max + pad, (half, 3))])
    near = part.points[rng.integers(len(part.points), size=count)] + rng.normal(0, sigma, (count, 3))
    queries = np.concatenate([vol, near]).astype(np.float32)
    occ = occupancy(part.vertices, part.faces, queries, None, thickness).astype(np.float32)
    return queries[:count], occ[:count], queries[count:], occ[count:]


def part_labels(parts: list[TrainPart], count: int, sigma: float, thickness: float, seed: int = 0,
                cache_dir: str | Path | None = None) -> PartLabels:
    """Occupancy labels for every part (cached under cache_dir by mesh content and parameters)."""
    cols: list[list[np.ndarray]] = [[] for _ in range(4)]
    for i, part in enumerate(parts):
        key = hashlib.sha256(b"".join([np.ascontiguousarray(part.vertices).tobytes(),
                                       np.ascontiguousarray(part.faces).tobytes(),
                                       repr((LABELS_VERSION, count, sigma, thickness, seed + i)).encode()])).hexdigest()[:24]
        path = Path(cache_dir) / f"{key}.npz" if cache_dir else None
        if path is not None and path.exists():
            with np.load(path) as z:
                got = [z[k] for k in ("vq", "vo", "nq", "no")]
        else:
            got = list(_part_labels(part, count, sigma, thickness, seed + i))
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # ranks may race: rename wins
                np.savez(tmp, vq=got[0], vo=got[1], nq=got[2], no=got[3])
                tmp.replace(path)
        for col, arr in zip(cols, got):
            col.append(arr)
    grow = thickness + 1e-3  # winding number < 0.5 outside the box; the shell reaches `thickness` past it
    return PartLabels(np.stack([p.points for p in parts]), np.stack([p.normals for p in parts]),
                      *(np.stack(c) for c in cols),
                      box_lo=np.stack([np.asarray(p.vertices).min(0) - grow for p in parts]).astype(np.float32),
                      box_hi=np.stack([np.asarray(p.vertices).max(0) + grow for p in parts]).astype(np.float32))


def _rank_slice(n: int, rank: int, world: int) -> slice:
    if n % world:
        raise ValueError(f"global batch {n} is not divisible by world size {world}")
    per = n // world
    return slice(rank * per, (rank + 1) * per)


def _subset(rng: np.random.Generator, rows: int, total: int, take: int) -> np.ndarray:
    """(rows, take) indices without replacement in [0, total)."""
    if take >= total:
        return np.broadcast_to(np.arange(total), (rows, total))
    return np.argsort(rng.random((rows, total)), axis=1)[:, :take]


def vae_batch(labels: PartLabels, step: int, seed: int, batch: int, enc_points: int, vol: int, near: int,
              latent_shape: tuple[int, int], rank: int = 0, world: int = 1, free: int = 0) -> dict[str, np.ndarray]:
    """Global batch of `batch` parts for this step; returns this rank's slice.
    points/normals (b, enc_points, 3), queries (b, vol + free + near, 3), occ (b, vol + free + near),
    near_mask (b, vol + free + near) True on near-surface queries, noise (b, M, D).
    free: fresh uniform queries in [-1, 1]^3 drawn every step, labelled 0 outside the part's box
    (`PartLabels.box_lo/hi`) and swapped for a precomputed volume query inside it: empty space is
    supervised everywhere, not only at the few thousand precomputed points (no floaters)."""
    rng = np.random.default_rng([seed, step, 1])
    idx = rng.integers(len(labels.points), size=batch)
    pi = _subset(rng, batch, labels.points.shape[1], enc_points)
    vi = _subset(rng, batch, labels.vol_q.shape[1], vol)
    ni = _subset(rng, batch, labels.near_q.shape[1], near)
    rows = idx[:, None]
    out = {
        "points": labels.points[rows, pi], "normals": labels.normals[rows, pi],
        "queries": np.concatenate([labels.vol_q[rows, vi], labels.near_q[rows, ni]], axis=1),
        "occ": np.concatenate([labels.vol_occ[rows, vi], labels.near_occ[rows, ni]], axis=1),
        "noise": rng.standard_normal((batch, *latent_shape)).astype(np.float32),
    }
    n_vol = vi.shape[1]
    if free > 0 and labels.box_lo is not None:  # drawn after the rest: free=0 keeps the old stream
        fq = rng.uniform(-1.0, 1.0, (batch, free, 3)).astype(np.float32)
        boxed = np.all((fq >= labels.box_lo[idx][:, None]) & (fq <= labels.box_hi[idx][:, None]), axis=2)
        swap = rng.integers(labels.vol_q.shape[1], size=(batch, free))
        fq = np.where(boxed[..., None], labels.vol_q[rows, swap], fq)
        fo = np.where(boxed, labels.vol_occ[rows, swap], 0.0).astype(np.float32)
        out["queries"] = np.concatenate([out["queries"][:, :n_vol], fq, out["queries"][:, n_vol:]], axis=1)
        out["occ"] = np.concatenate([out["occ"][:, :n_vol], fo, out["occ"][:, n_vol:]], axis=1)
        n_vol += free
    out["near_mask"] = np.broadcast_to(np.arange(out["occ"].shape[1]) >= n_vol, out["occ"].shape)
    sl = _rank_slice(batch, rank, world)
    return {k: np.ascontiguousarray(v[sl]) for k, v in out.items()}


@dataclass
class ObjectLatents:
    """Per object, P = max_parts (+1 global slot, last): latents / box tokens (O, P, M, D), scaled;
    mask (O, P) bool; boxes (O, P, 2, 3). With captions: text_ids (O, P) rows of the table of distinct
    caption embeddings text (U, L, T) with their token masks text_mask (U, L) bool."""

    latents: np.ndarray
    box: np.ndarray
    mask: np.ndarray
    boxes: np.ndarray
    text_ids: np.ndarray | None = None
    text: np.ndarray | None = None
    text_mask: np.ndarray | None = None


def largest_indices(parts: list[TrainPart], max_parts: int) -> list[int]:
    """Indices (in order) of the `max_parts` parts with the largest boxes."""
    if len(parts) <= max_parts:
        return list(range(len(parts)))
    vol = [float(np.prod(np.maximum(p.bbox_max - p.bbox_min, 1e-3))) for p in parts]
    return sorted(int(i) for i in np.argsort(vol)[::-1][:max_parts])


def keep_largest(parts: list[TrainPart], max_parts: int) -> list[TrainPart]:
    """The `max_parts` parts with the largest boxes (longer objects are generated by part fixing)."""
    return [parts[i] for i in largest_indices(parts, max_parts)]


def box_points(boxes: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2, 3) boxes -> surface points, normals (K, count, 3); the same seed for every box so a
    box's tokens depend only on the box."""
    pts, nrm = zip(*(box_surface(b[0], b[1], count, np.random.default_rng(seed)) for b in boxes))
    return np.stack(pts), np.stack(nrm)


def dit_batch(store: ObjectLatents, step: int, seed: int, batch: int, id_table: int, cond_dropout: float,
              rank: int = 0, world: int = 1, caption_dropout: float = 0.0) -> dict[str, np.ndarray]:
    """Global batch of objects with flow-matching draws; this rank's slice. One time and one
    condition-dropout draw per object, shared by its parts; part ids a random draw from the table.
    With captions: text (b, P, L, T), text_mask (b, P, L) and drop_text (b,) (captions alone dropped)."""
    rng = np.random.default_rng([seed, step, 2])
    idx = rng.integers(len(store.latents), size=batch)
    p = store.latents.shape[1]
    out = {
        "x0": store.latents[idx], "box": store.box[idx], "mask": store.mask[idx],
        "t": rng.random(batch).astype(np.float32),
        "noise": rng.standard_normal(store.latents[idx].shape).astype(np.float32),
        "part_ids": np.argsort(rng.random((batch, id_table)), axis=1)[:, :p],
        "drop": rng.random(batch) < cond_dropout,
    }
    if store.text_ids is not None:  # drawn after the rest: runs without captions keep their stream
        ids = store.text_ids[idx]
        out.update(text=store.text[ids], text_mask=store.text_mask[ids], drop_text=rng.random(batch) < caption_dropout)
    sl = _rank_slice(batch, rank, world)
    return {k: np.ascontiguousarray(v[sl]) for k, v in out.items()}


def object_points(obj: TrainObject, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Surface samples of the whole object: a uniform draw from all its parts' samples -> (count, 3) x2."""
    rng = np.random.default_rng(seed)
    pts = np.concatenate([p.points for p in obj.parts])
    nrm = np.concatenate([p.normals for p in obj.parts])
    pick = rng.choice(len(pts), size=count, replace=len(pts) < count)
    return pts[pick], nrm[pick]
