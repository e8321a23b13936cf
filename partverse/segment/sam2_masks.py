"""SAM-2 automatic mask generation with transformers' `Sam2Model`, deterministic.

Instead of random prompt points (Samesh), prompts are a fixed grid of `points_per_side`^2 points,
kept where the object is (foreground), so the same images always give the same masks. Per point
the best of SAM-2's three masks (by predicted IoU) is kept if its predicted IoU and its stability
score (IoU of the mask thresholded at +offset and -offset) pass the thresholds. Masks are painted
largest first, so smaller masks win where they overlap; the result is one label image per view.
Runs batched on a GPU when torch sees one, on CPU otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partverse.errors import ConfigError, PartverseError
from partverse.extras import require


@dataclass(slots=True, frozen=True)
class MaskConfig:
    points_per_side: int = 16
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.5
    stability_thresh: float = 0.7
    stability_offset: float = 1.0
    min_mask_pixels: int = 64

    def __post_init__(self):
        if self.points_per_side < 1 or self.points_per_batch < 1:
            raise ConfigError(f"points_per_side = {self.points_per_side!r}, points_per_batch = {self.points_per_batch!r}: must be >= 1")


class Sam2MaskGenerator:
    """Loads `Sam2Model` + `Sam2Processor` with `from_pretrained(model)` (local path or hub id)."""

    def __init__(self, model: str, config: MaskConfig = MaskConfig(), device: str | None = None):
        torch = require("torch", "sam2")
        transformers = require("transformers", "sam2")
        require("torchvision", "sam2")
        self.config = config
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.processor = transformers.Sam2Processor.from_pretrained(str(model))
            self.model = transformers.Sam2Model.from_pretrained(str(model)).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise PartverseError(f"{model}: cannot load a SAM-2 model and processor ({exc})") from exc

    def embed(self, images: np.ndarray):
        """Image embeddings of (N, H, W, 3) uint8 views (the SAM-2 image-encoder forward)."""
        import torch

        inputs = self.processor(images=list(images), return_tensors="pt")
        with torch.no_grad():
            embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device))
        return embeddings

    def masks(self, images: np.ndarray, foreground: np.ndarray, embeddings=None) -> np.ndarray:
        """(N, H, W) int64 mask labels (-1 = none) for (N, H, W, 3) uint8 images whose object
        pixels are `foreground` (N, H, W) bool."""
        if embeddings is None:
            embeddings = self.embed(images)
        out = np.full(foreground.shape, -1, dtype=np.int64)
        for i in range(len(images)):  # loop over views
            view_embeddings = [e[i : i + 1] for e in embeddings]
            out[i] = self._view_masks(images[i], foreground[i], view_embeddings)
        return out

    def _grid_points(self, foreground: np.ndarray) -> np.ndarray:
        h, w = foreground.shape
        n = self.config.points_per_side
        xs = ((np.arange(n) + 0.5) / n * w).astype(np.int64)
        ys = ((np.arange(n) + 0.5) / n * h).astype(np.int64)
        gx, gy = np.meshgrid(xs, ys)
        keep = foreground[gy.ravel(), gx.ravel()]
        return np.stack([gx.ravel()[keep], gy.ravel()[keep]], axis=1).astype(np.float64)

    def _view_masks(self, image: np.ndarray, foreground: np.ndarray, embeddings) -> np.ndarray:
        import torch

        points = self._grid_points(foreground)
        kept = []
        size = [[int(foreground.shape[0]), int(foreground.shape[1])]]
        for start in range(0, len(points), self.config.points_per_batch):  # batches of prompts
            batch = points[start : start + self.config.points_per_batch]
            inputs = self.processor(original_sizes=size, input_points=[[[p.tolist()] for p in batch]],
                                    input_labels=[[[1] for _ in batch]], return_tensors="pt")
            with torch.no_grad():
                result = self.model(image_embeddings=embeddings, input_points=inputs["input_points"].to(self.device),
                                    input_labels=inputs["input_labels"].to(self.device), multimask_output=True)
            low_res, score = _best_of_three(result.pred_masks.cpu()[0], result.iou_scores.cpu()[0])
            logits = self.processor.post_process_masks(low_res[None, :, None], inputs["original_sizes"], binarize=False)[0][:, 0]
            kept.append(self._select(logits, score))
        masks = np.concatenate(kept) if kept else np.zeros((0,) + foreground.shape, bool)
        return paint_masks(masks & foreground[None], self.config.min_mask_pixels)

    def _select(self, logits, score) -> np.ndarray:
        """(P, H, W) bool: the prompts' masks that pass the predicted-IoU and stability thresholds."""
        high = (logits > self.config.stability_offset).flatten(1).sum(1)
        low = (logits > -self.config.stability_offset).flatten(1).sum(1)
        stability = high.float() / low.clamp(min=1).float()
        keep = (score >= self.config.pred_iou_thresh) & (stability >= self.config.stability_thresh)
        return (logits[keep] > 0).numpy()


def _best_of_three(pred_masks, iou_scores):
    """Per prompt, SAM-2's best mask by predicted IoU: (P, h, w) low-res logits and (P,) scores."""
    import torch

    best = iou_scores.argmax(dim=1)
    index = torch.arange(len(best))
    return pred_masks[index, best], iou_scores[index, best]


def paint_masks(masks: np.ndarray, min_pixels: int = 0) -> np.ndarray:
    """(H, W) int64 label image from (M, H, W) bool masks, largest painted first so smaller masks
    win; masks with fewer than `min_pixels` visible pixels in the result are dropped (-1)."""
    if len(masks) == 0:
        return np.full(masks.shape[1:], -1, dtype=np.int64)
    order = np.argsort(-masks.reshape(len(masks), -1).sum(axis=1), kind="stable")
    stacked = masks[order]
    # the last mask in painting order covering a pixel owns it
    last = len(stacked) - 1 - np.argmax(stacked[::-1], axis=0)
    label = np.where(stacked.any(axis=0), last, -1)
    counts = np.bincount(label[label >= 0].ravel(), minlength=len(stacked))
    label[(label >= 0) & (counts[np.maximum(label, 0)] < min_pixels)] = -1
    return label.astype(np.int64)
