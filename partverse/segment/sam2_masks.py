"""SAM-2 automatic mask generation with transformers' `Sam2Model`, deterministic.

Instead of random prompt points (Samesh), prompts are a fixed grid of `points_per_side`^2 points,
kept where the object is (foreground), so the same images always give the same masks. Per point
the best of SAM-2's three masks (by predicted IoU) is kept if its predicted IoU and its stability
score (IoU of the mask thresholded at +offset and -offset) pass the thresholds. Masks are painted
largest first, so smaller masks win where they overlap; the result is one label image per view.
Runs on a GPU when torch sees one, on CPU otherwise (`pick_device`), batched over views
(`views_per_batch` views per image-encoder and mask-decoder forward) and prompts
(`points_per_batch`). Masks of several image sets of the same views (modalities) are pooled
per view before painting (`pooled_masks`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from partverse.errors import ConfigError, PartverseError
from partverse.extras import require
from partverse.model_source import model_source


@dataclass(slots=True, frozen=True)
class MaskConfig:
    """points_per_side: prompt grid is points_per_side^2 (foreground points only);
    points_per_batch: prompts per decoder forward; views_per_batch: views per image-encoder and
    decoder forward (memory grows with both); thresholds as in SAM's automatic mask generator."""

    points_per_side: int = 16
    points_per_batch: int = 64
    views_per_batch: int = 4
    pred_iou_thresh: float = 0.5
    stability_thresh: float = 0.7
    stability_offset: float = 1.0
    min_mask_pixels: int = 64

    def __post_init__(self):
        for name in ("points_per_side", "points_per_batch", "views_per_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} = {value!r}: must be an integer >= 1")


def pick_device(device: str | None) -> str:
    """"cuda" when torch sees a GPU and `device` is None or "auto", else "cpu"; an explicit
    "cpu", "cuda" or "cuda:N" is checked (ConfigError when no GPU is there to use)."""
    torch = require("torch", "sam2")
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if isinstance(device, str) and (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        if not torch.cuda.is_available():
            raise ConfigError(f"device = {device!r}: torch sees no CUDA GPU here; use 'cpu' or 'auto'")
        count = torch.cuda.device_count()
        if device != "cuda" and int(device[5:]) >= count:
            raise ConfigError(f"device = {device!r}: torch sees {count} CUDA GPU(s) here, numbered 0..{count - 1}")
        return device
    raise ConfigError(f"device = {device!r}: must be 'auto', 'cpu', 'cuda' or 'cuda:N'")


class Sam2MaskGenerator:
    """Loads `Sam2Model` + `Sam2Processor` with `from_pretrained(model)` (local path or hub id) on
    `device` (`pick_device`). `seconds` accumulates the image-encoder ("embed") and mask-decoder
    ("decode") forward times."""

    def __init__(self, model: str, config: MaskConfig = MaskConfig(), device: str | None = None):
        source = model_source(model, "sam2", "facebook/sam2.1-hiera-large")
        require("torch", "sam2")
        transformers = require("transformers", "sam2")
        require("torchvision", "sam2")
        self.config = config
        self.device = pick_device(device)
        self.seconds = {"embed": 0.0, "decode": 0.0}
        try:
            self.processor = transformers.Sam2Processor.from_pretrained(source)
            self.model = transformers.Sam2Model.from_pretrained(source).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise PartverseError(f"{model}: cannot load a SAM-2 model and processor ({exc})") from exc

    def embed(self, images: np.ndarray):
        """Image embeddings (list of (N, C, h, w) tensors) of (N, H, W, 3) uint8 views, in one
        image-encoder forward (callers batch by `views_per_batch`)."""
        import torch

        t = time.perf_counter()
        inputs = self.processor(images=list(images), return_tensors="pt")
        with torch.no_grad():
            embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device))
        self.seconds["embed"] += time.perf_counter() - t
        return embeddings

    def view_masks(self, images: np.ndarray, foreground: np.ndarray, embeddings=None) -> list[np.ndarray]:
        """Per view, the (M_i, H, W) bool masks that pass the thresholds, inside `foreground`
        (N, H, W) bool, for (N, H, W, 3) uint8 images; views go through SAM-2 `views_per_batch`
        at a time. `embeddings`: from `embed(images)` when already computed."""
        width = foreground.shape[-1]
        return [np.unpackbits(packed, axis=-1, count=width).view(bool)
                for packed, _ in self._packed_view_masks(images, foreground, embeddings)]

    def _packed_view_masks(self, images: np.ndarray, foreground: np.ndarray, embeddings=None) -> list[tuple]:
        """`view_masks` as (M_i, H, ceil(W / 8)) uint8 bit-packed masks and their (M_i,) pixel counts."""
        if len(images) != len(foreground):
            raise PartverseError(f"sam2: {len(images)} images for {len(foreground)} foreground masks")
        out = []
        step = self.config.views_per_batch
        for start in range(0, len(images), step):  # batches of views
            end = min(start + step, len(images))
            batch = self.embed(images[start:end]) if embeddings is None else [e[start:end] for e in embeddings]
            out += self._decode(batch, foreground[start:end])
        return out

    def masks(self, images: np.ndarray, foreground: np.ndarray, embeddings=None) -> np.ndarray:
        """(N, H, W) int64 mask labels (-1 = none) for (N, H, W, 3) uint8 images whose object
        pixels are `foreground` (N, H, W) bool."""
        return self.pooled_masks([images], foreground, None if embeddings is None else [embeddings])

    def pooled_masks(self, image_sets: list[np.ndarray], foreground: np.ndarray, embeddings=None) -> np.ndarray:
        """(N, H, W) int64 mask labels from several image sets of the same N views (one per
        modality): each view's masks from every set are pooled, then painted largest first.
        One batch of `views_per_batch` views at a time goes through every set and is painted, its
        masks held bit-packed meanwhile: memory holds one batch's masks, at a bit per pixel
        (12 views at 512 px with every prompt's mask kept: 1.5 GB of masks held at once before)."""
        if any(len(images) != len(foreground) for images in image_sets):
            raise PartverseError(f"sam2: {[len(i) for i in image_sets]} images per set for {len(foreground)} foreground masks")
        labels = np.empty(foreground.shape, np.int64)
        step = self.config.views_per_batch
        for start in range(0, len(foreground), step):  # the same batches `view_masks` makes
            end = min(start + step, len(foreground))
            per_set = [self._packed_view_masks(images[start:end], foreground[start:end],
                                               None if embeddings is None else [e[start:end] for e in embeddings[i]])
                       for i, images in enumerate(image_sets)]
            for v in range(end - start):  # loop over the batch's views
                packed = np.concatenate([masks[v][0] for masks in per_set])
                pixels = np.concatenate([masks[v][1] for masks in per_set])
                labels[start + v] = paint_packed(packed, pixels, foreground.shape[-1], self.config.min_mask_pixels)
        return labels

    def _grid_points(self, foreground: np.ndarray) -> np.ndarray:
        h, w = foreground.shape
        n = self.config.points_per_side
        xs = ((np.arange(n) + 0.5) / n * w).astype(np.int64)
        ys = ((np.arange(n) + 0.5) / n * h).astype(np.int64)
        gx, gy = np.meshgrid(xs, ys)
        keep = foreground[gy.ravel(), gx.ravel()]
        return np.stack([gx.ravel()[keep], gy.ravel()[keep]], axis=1).astype(np.float64)

    def _decode(self, embeddings, foreground: np.ndarray) -> list[np.ndarray]:
        """Per view of a batch, the kept (M_i, H, W) bool masks. Views with fewer foreground
        points repeat theirs up to the batch's largest count; the repeats are discarded."""
        import torch

        t = time.perf_counter()
        views, h, w = foreground.shape
        points = [self._grid_points(fg) for fg in foreground]
        count = max(len(p) for p in points)
        kept = [[np.zeros((0, h, (w + 7) // 8), np.uint8)] for _ in range(views)]
        pixels = [[np.zeros(0, np.int64)] for _ in range(views)]
        padded = np.stack([np.resize(p, (count, 2)) if len(p) else np.zeros((count, 2)) for p in points])
        sizes = [[h, w]] * views
        for start in range(0, count, self.config.points_per_batch):  # batches of prompts
            chunk = padded[:, start : start + self.config.points_per_batch]
            inputs = self.processor(original_sizes=sizes, input_points=chunk[:, :, None, :].tolist(),
                                    input_labels=np.ones(chunk.shape[:2] + (1,), dtype=np.int64).tolist(), return_tensors="pt")
            with torch.no_grad():
                result = self.model(image_embeddings=embeddings, input_points=inputs["input_points"].to(self.device),
                                    input_labels=inputs["input_labels"].to(self.device), multimask_output=True)
            pred, iou = result.pred_masks, result.iou_scores  # left on the model's device
            for v in range(views):  # loop over the batch's views
                real = min(len(points[v]) - start, chunk.shape[1])
                if real <= 0:
                    continue
                low_res, score = _best_of_three(pred[v, :real], iou[v, :real])
                passed = score >= self.config.pred_iou_thresh  # only these are upsampled
                if not bool(passed.any()):
                    continue
                logits = self.processor.post_process_masks(low_res[passed][None, :, None], [sizes[v]],
                                                           binarize=False)[0][:, 0]
                selected = self._stable(logits.cpu().numpy()) & foreground[v][None]
                kept[v].append(np.packbits(selected, axis=-1))
                pixels[v].append(np.count_nonzero(selected, axis=(1, 2)))
        self.seconds["decode"] += time.perf_counter() - t
        return [(np.concatenate(k), np.concatenate(c)) for k, c in zip(kept, pixels)]

    def _stable(self, logits: np.ndarray) -> np.ndarray:
        """(P', H, W) bool masks (logits > 0) of the (P, H, W) float32 view-sized logits whose
        stability score passes: pixels above +offset over pixels above -offset (numpy counts: a
        fifth of the time torch takes to sum a bool tensor on CPU, measured)."""
        offset = self.config.stability_offset
        high = np.count_nonzero(logits > offset, axis=(1, 2)).astype(np.float32)
        low = np.maximum(np.count_nonzero(logits > -offset, axis=(1, 2)), 1).astype(np.float32)
        keep = high / low >= self.config.stability_thresh
        masks = logits > 0
        return masks if keep.all() else masks[keep]


def _best_of_three(pred_masks, iou_scores):
    """Per prompt, SAM-2's best mask by predicted IoU: (P, h, w) low-res logits and (P,) scores."""
    import torch

    best = iou_scores.argmax(dim=1)
    index = torch.arange(len(best), device=best.device)
    return pred_masks[index, best], iou_scores[index, best]


def paint_packed(packed: np.ndarray, pixels: np.ndarray, width: int, min_pixels: int = 0) -> np.ndarray:
    """`paint_masks` of (M, H, ceil(width / 8)) bit-packed masks (`np.packbits` along the rows)
    with (M,) pixel counts: each mask is unpacked in turn and painted over the previous ones,
    largest first (a loop over masks, each one pass over the pixels), so that only one is ever
    held unpacked. Same labels as `paint_masks` of the unpacked masks."""
    label = np.full((packed.shape[1], width), -1, dtype=np.int64)
    if len(packed) == 0:
        return label
    order = np.argsort(-np.asarray(pixels), kind="stable")
    for rank, m in enumerate(order.tolist()):  # the last mask in painting order covering a pixel owns it
        label[np.unpackbits(packed[m], axis=-1, count=width).view(bool)] = rank
    counts = np.bincount(label[label >= 0].ravel(), minlength=len(order))
    label[(label >= 0) & (counts[np.maximum(label, 0)] < min_pixels)] = -1
    return label


def paint_masks(masks: np.ndarray, min_pixels: int = 0) -> np.ndarray:
    """(H, W) int64 label image from (M, H, W) bool masks, largest painted first so smaller masks
    win; masks with fewer than `min_pixels` visible pixels in the result are dropped (-1).
    (`paint_packed` of the masks bit-packed.)"""
    masks = np.asarray(masks, dtype=bool)
    return paint_packed(np.packbits(masks, axis=-1), masks.sum(axis=(1, 2)), masks.shape[-1], min_pixels)