"""Render outputs on disk, so captioning can run later, elsewhere, or again.

Layout of one object, `<dir>/<uid>/` (written to a temp folder, then renamed: a folder that
exists is complete):

    renders.json        views (cameras), object_view, object_pixels, visible_pixels (V x P),
                        parts (part_id, name, best_view, visible_pixels, share, box, facts), facts
    view_NN.png         RGBA render of the whole object from view NN
    object.png          what the VLM sees for the whole-object caption
    part_<id>.png       the part alone, from its best view's direction
    composite_<id>.png  what the VLM sees for the part caption
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from partverse.errors import PartverseError
from partverse.render.cameras import Camera
from partverse.render.objects import ObjectRenders, PartView


def save_renders(directory: str | Path, r: ObjectRenders) -> Path:
    """Write `r` under directory/<uid>/ atomically; return that folder."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    target = root / r.uid
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{r.uid}."))
    try:
        for i, png in enumerate(r.object_png):
            (tmp / f"view_{i:02d}.png").write_bytes(png)
        (tmp / "object.png").write_bytes(r.object_image_png)
        parts = []
        for p in r.parts:
            (tmp / f"part_{p.part_id}.png").write_bytes(p.part_png)
            (tmp / f"composite_{p.part_id}.png").write_bytes(p.composite_png)
            parts.append({"part_id": p.part_id, "name": p.name, "best_view": p.best_view, "visible_pixels": p.visible_pixels,
                          "share": p.share, "box": None if p.box is None else [int(x) for x in p.box], "facts": p.facts})
        meta = {"uid": r.uid, "views": [asdict(c) for c in r.views], "object_view": r.object_view,
                "object_pixels": r.object_pixels.tolist(), "visible_pixels": r.visible_pixels.tolist(),
                "parts": parts, "facts": r.facts}
        (tmp / "renders.json").write_text(json.dumps(meta))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_renders(folder: str | Path) -> ObjectRenders:
    """Read one object's folder written by `save_renders`."""
    folder = Path(folder)
    meta_path = folder / "renders.json"
    if not meta_path.is_file():
        raise PartverseError(f"{folder}: no renders.json (not a render folder, or an unfinished one)")
    meta = json.loads(meta_path.read_text())
    views = [Camera(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()}) for c in meta["views"]]
    parts = [
        PartView(p["part_id"], p["name"], p["best_view"], p["visible_pixels"], p["share"],
                 None if p["box"] is None else np.asarray(p["box"], dtype=np.int64),
                 (folder / f"part_{p['part_id']}.png").read_bytes(), (folder / f"composite_{p['part_id']}.png").read_bytes(), p["facts"])
        for p in meta["parts"]
    ]
    return ObjectRenders(
        uid=meta["uid"], views=views,
        object_png=[(folder / f"view_{i:02d}.png").read_bytes() for i in range(len(views))],
        object_pixels=np.asarray(meta["object_pixels"], dtype=np.int64),
        visible_pixels=np.asarray(meta["visible_pixels"], dtype=np.int64).reshape(len(views), len(parts)),
        parts=parts, object_view=meta["object_view"], object_image_png=(folder / "object.png").read_bytes(), facts=meta["facts"],
    )


def list_render_folders(directory: str | Path) -> list[Path]:
    """Complete object folders under directory (temp folders of interrupted writes are skipped)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "renders.json").is_file())
