"""Highlight composites for the VLM: the object view with the part marked, beside the part render.

Default style reproduces PartVerse's captioning input: the object image with the part's 2D box in
red, side by side with the part-centric render, each tile `tile` pixels square (448 = 16 x 28, a
size Qwen2.5-VL's 28-pixel patches divide). PartGen's style (red circle + alpha blending of the
rest) is `HighlightStyle(mark="circle", dim_rest=0.5)`.

    img = compose(object_rgba, part_mask, part_rgba, style)  # PIL RGB image (tile*2, tile)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partverse.errors import ConfigError
from partverse.render.visibility import mask_box

_MARKS = ("box", "circle", "none")
_LAYOUTS = ("side_by_side", "object_only")


@dataclass(frozen=True)
class HighlightStyle:
    """How the part is marked. colour: RGB; line_width in pixels of the output tile;
    dim_rest: 0 = leave the rest of the object as is, 1 = fade it fully to the background;
    tint: 0..1 alpha-blend of `colour` over the part's pixels; pad: box margin in tile pixels."""

    mark: str = "box"
    colour: tuple[int, int, int] = (255, 0, 0)
    line_width: int = 3
    dim_rest: float = 0.0
    tint: float = 0.0
    pad: int = 4
    layout: str = "side_by_side"
    tile: int = 448
    background: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        if self.mark not in _MARKS:
            raise ConfigError(f"HighlightStyle.mark: {self.mark!r}; allowed: {', '.join(_MARKS)}")
        if self.layout not in _LAYOUTS:
            raise ConfigError(f"HighlightStyle.layout: {self.layout!r}; allowed: {', '.join(_LAYOUTS)}")
        for name in ("dim_rest", "tint"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"HighlightStyle.{name}: {value}; must be in [0, 1]")
        if self.tile < 28 or self.line_width < 0:
            raise ConfigError(f"HighlightStyle.tile/line_width: {self.tile}/{self.line_width}; tile >= 28, line_width >= 0")


def _over_background(rgba: np.ndarray, background) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) float composited over a solid background."""
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return rgba[..., :3] * a + np.asarray(background, dtype=np.float64) * (1 - a)


def highlight(object_rgba: np.ndarray, part_mask: np.ndarray, style: HighlightStyle) -> np.ndarray:
    """Dim the rest / tint the part: (H, W, 4) uint8 + (H, W) bool -> (H, W, 3) uint8."""
    rgb = _over_background(object_rgba, style.background)
    bg = np.asarray(style.background, dtype=np.float64)
    obj = object_rgba[..., 3] > 0
    rest = obj & ~part_mask
    if style.dim_rest > 0:
        rgb[rest] = rgb[rest] * (1 - style.dim_rest) + bg * style.dim_rest
    if style.tint > 0:
        rgb[part_mask] = rgb[part_mask] * (1 - style.tint) + np.asarray(style.colour) * style.tint
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def tile_box(box: np.ndarray, size: tuple[int, int], tile: int, pad: int) -> tuple[int, int, int, int]:
    """Pixel box [x0, y0, x1, y1) of a (W, H) image -> the box in the `tile` square it is resized to."""
    w, h = size
    sx, sy = tile / w, tile / h
    x0, y0, x1, y1 = box
    return (
        max(0, int(np.floor(x0 * sx)) - pad),
        max(0, int(np.floor(y0 * sy)) - pad),
        min(tile - 1, int(np.ceil(x1 * sx)) + pad - 1),
        min(tile - 1, int(np.ceil(y1 * sy)) + pad - 1),
    )


def compose(object_rgba: np.ndarray, part_mask: np.ndarray, part_rgba: np.ndarray | None, style: HighlightStyle = HighlightStyle()):
    """object_rgba (H, W, 4) uint8, part_mask (H, W) bool (the part's visible pixels),
    part_rgba (h, w, 4) uint8 or None -> PIL RGB image (2*tile, tile) or (tile, tile)."""
    from PIL import Image, ImageDraw

    h, w = part_mask.shape
    left = Image.fromarray(highlight(object_rgba, part_mask, style)).resize((style.tile, style.tile), Image.LANCZOS)
    box = mask_box(part_mask)
    if box is not None and style.mark != "none" and style.line_width > 0:
        draw = ImageDraw.Draw(left)
        tb = tile_box(box, (w, h), style.tile, style.pad)
        if style.mark == "box":
            draw.rectangle(tb, outline=tuple(style.colour), width=style.line_width)
        else:  # circle (ellipse) around the box, PartGen / "red circle" visual prompting
            cx, cy = (tb[0] + tb[2]) / 2, (tb[1] + tb[3]) / 2
            rx, ry = (tb[2] - tb[0]) / 2 * 1.3 + 2, (tb[3] - tb[1]) / 2 * 1.3 + 2
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=tuple(style.colour), width=style.line_width)
    if style.layout == "object_only" or part_rgba is None:
        return left
    right = Image.fromarray(np.clip(_over_background(part_rgba, style.background) + 0.5, 0, 255).astype(np.uint8))
    right = right.resize((style.tile, style.tile), Image.LANCZOS)
    out = Image.new("RGB", (2 * style.tile, style.tile), tuple(style.background))
    out.paste(left, (0, 0))
    out.paste(right, (style.tile, 0))
    return out
