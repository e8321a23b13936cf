"""Facts a part carries by itself (names, size, position, colour), for prompts and for the
`metadata` caption backend. Frame: the object's (glTF) frame, +Y up."""
from __future__ import annotations

import numpy as np

from partverse.records import Mesh

_HUES = [(15, "red"), (40, "orange"), (68, "yellow"), (160, "green"), (195, "teal"), (255, "blue"), (290, "purple"), (340, "pink"), (361, "red")]


def colour_name(rgb: np.ndarray) -> str:
    """(3,) sRGB 0..255 -> a plain colour name from hue, saturation and lightness."""
    import colorsys

    r, g, b = (float(c) / 255.0 for c in rgb)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    if v < 0.18:
        return "black"
    if s < 0.25:
        return "white" if v > 0.9 else "light gray" if v > 0.7 else "gray" if v > 0.4 else "dark gray"
    deg = h * 360.0
    name = next(n for limit, n in _HUES if deg < limit)
    if name in ("orange", "red", "yellow") and v < 0.6 and name != "red":
        return "brown"
    return ("dark " + name) if v < 0.45 else name


def dominant_colour(rgba: np.ndarray) -> tuple[str, str] | None:
    """(H, W, 4) uint8 render -> (colour name, "#rrggbb") of the median opaque pixel, or None."""
    px = rgba[rgba[..., 3] > 0][:, :3]
    if len(px) == 0:
        return None
    med = np.median(px, axis=0)
    return colour_name(med), "#{:02x}{:02x}{:02x}".format(*(int(c) for c in med))


def _top_names(indices: np.ndarray, names: list[str], weights: np.ndarray, k: int = 3) -> list[str]:
    valid = indices >= 0
    if not valid.any() or not names:
        return []
    w = np.bincount(indices[valid], weights=weights[valid], minlength=len(names))
    order = np.argsort(-w, kind="stable")
    return [names[i] for i in order[:k] if w[i] > 0 and names[i]]


def _position_words(rel: np.ndarray) -> str:
    """rel (3,) in [-1, 1] (centroid relative to the object box, +Y up) -> e.g. "top, off-centre".

    Only up / down is named: which horizontal side is "front" or "left" is not known reliably."""
    words = []
    if rel[1] > 0.33:
        words.append("top")
    elif rel[1] < -0.33:
        words.append("bottom")
    if max(abs(rel[0]), abs(rel[2])) > 0.33:
        words.append("off-centre")
    return ", ".join(words) or "centre"


def part_facts(mesh: Mesh, face_mask: np.ndarray, name: str = "", part_rgba: np.ndarray | None = None) -> dict:
    """Facts about the faces face_mask (F,) bool of `mesh`; JSON-serializable dict."""
    tri = mesh.vertices[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    pv = tri[face_mask].reshape(-1, 3)
    plo, phi = pv.min(0), pv.max(0)
    w = area[face_mask]
    centroid = (tri[face_mask].mean(1) * w[:, None]).sum(0) / max(w.sum(), 1e-12) if w.sum() > 0 else pv.mean(0)
    rel = (centroid - (lo + hi) / 2) / np.maximum((hi - lo) / 2, 1e-12)
    facts = {
        "name": name,
        "artist_names": _top_names(mesh.face_artist_part[face_mask].astype(np.int64), [p.name for p in mesh.artist_parts], w),
        "materials": _top_names(mesh.face_material[face_mask].astype(np.int64), [m.name for m in mesh.materials], w),
        "area_share": float(w.sum() / max(area.sum(), 1e-12)),
        "size_ratio": float(np.linalg.norm(phi - plo) / max(np.linalg.norm(hi - lo), 1e-12)),
        "position": _position_words(rel),
        "num_faces": int(face_mask.sum()),
    }
    if part_rgba is not None:
        dc = dominant_colour(part_rgba)
        if dc is not None:
            facts["colour"], facts["colour_hex"] = dc
    return facts
