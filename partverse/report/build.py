"""Build the report: statistics and plots from the light columns, renders for a sample of objects."""
from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from partverse.errors import ConfigError
from partverse.report import plots
from partverse.report.html import page
from partverse.report.tables import ReleaseTables, category, load_tables, object_rows, part_rows, words

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportConfig:
    """thumbnails: objects shown in the grid; captions: part captions sampled; thumb_size: pixels."""

    thumbnails: int = 24
    captions: int = 12
    thumb_size: int = 192
    seed: int = 0

    def __post_init__(self) -> None:
        for name, lo, hi in (("thumbnails", 0, 1000), ("captions", 0, 1000), ("thumb_size", 32, 1024)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ConfigError(f"ReportConfig.{name}: {value}; must be in [{lo}, {hi}]")


def build_report(release: str | Path, out: str | Path, config: ReportConfig = ReportConfig()) -> dict[str, Any]:
    """Write one self-contained HTML file describing the release at `release`; return its summary."""
    t = load_tables(release)
    summary = _summary(t)
    sections = [("Counts", _counts_html(summary)), ("Objects", _object_plots(t)), ("Parts", _part_plots(t)),
                ("Licences and categories", _licence_plots(t)), ("Captions", _caption_plots(t))]
    thumbs, thumb_notes = _thumbnails(release, t, config)
    sections.append(("Objects with their parts", thumbs))
    samples, sample_notes = _caption_samples(release, t, config)
    sections.append(("Caption samples", samples))
    title = f"partverse release {t.manifest.get('version', '?')}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(title, sections, thumb_notes + sample_notes), encoding="utf-8")
    return summary


def _summary(t: ReleaseTables) -> dict[str, Any]:
    statuses = t.captions["status"].to_pylist()
    return {"version": t.manifest.get("version"), "objects": t.objects.num_rows, "parts": t.parts.num_rows,
            "captions": t.captions.num_rows, "captions_ok": sum(1 for s in statuses if s == "ok"),
            "faces": int(np.sum(t.objects["num_faces"].to_numpy(zero_copy_only=False))) if t.objects.num_rows else 0,
            "human_labelled": sum(1 for s in t.objects["label_source"].to_pylist() if s == "human")}


def _img(b64: str, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _counts_html(s: dict[str, Any]) -> str:
    rows = [("version", s["version"]), ("objects", s["objects"]), ("parts", s["parts"]), ("faces", s["faces"]),
            ("objects labelled by people", s["human_labelled"]), ("captions", s["captions"]),
            ("captions with status ok", s["captions_ok"])]
    return '<table class="counts">' + "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows) + "</table>"


def _object_plots(t: ReleaseTables) -> str:
    parts = t.objects["num_parts"].to_numpy(zero_copy_only=False).astype(np.int64)
    faces = t.objects["num_faces"].to_numpy(zero_copy_only=False)
    return (_img(plots.integer_histogram(parts, "parts per object", "Parts per object"), "parts per object")
            + _img(plots.log_histogram(faces, "faces per object", "objects", "Face count"), "face count"))


def _part_plots(t: ReleaseTables) -> str:
    if not t.parts.num_rows:
        return "<p>no parts</p>"
    faces = t.parts["num_faces"].to_numpy(zero_copy_only=False).astype(np.float64)
    obj_faces = dict(zip(t.objects["uid"].to_pylist(), t.objects["num_faces"].to_pylist()))
    share = faces / np.array([max(obj_faces.get(u) or 1, 1) for u in t.parts["uid"].to_pylist()], np.float64)
    lo = np.asarray(t.parts["bbox_min"].to_pylist(), np.float64).reshape(-1, 3)
    hi = np.asarray(t.parts["bbox_max"].to_pylist(), np.float64).reshape(-1, 3)
    diagonal = np.linalg.norm(hi - lo, axis=1)
    return (_img(plots.log_histogram(faces, "faces per part", "parts", "Part face count"), "part face count")
            + _img(plots.linear_histogram(100 * share, "% of the object's faces", "parts", "Part size (faces)"), "part size")
            + _img(plots.log_histogram(diagonal, "bounding-box diagonal (normalized frame)", "parts",
                                       "Part size (extent)"), "part extent"))


def _licence_plots(t: ReleaseTables) -> str:
    from partverse.data.release import licence_code

    licences = [licence_code(x) for x in t.objects["license"].to_pylist()]
    cats = [category(m) for m in t.objects["metadata_json"].to_pylist()]
    sources = [s or "(none)" for s in t.objects["source"].to_pylist()]
    return (_img(plots.bar_counts(licences, "objects", "Licences"), "licences")
            + _img(plots.bar_counts(cats, "objects", "Categories"), "categories")
            + _img(plots.bar_counts(sources, "objects", "Sources"), "sources"))


def _caption_plots(t: ReleaseTables) -> str:
    if not t.captions.num_rows:
        return "<p>no captions</p>"
    brief, detailed = words(t.captions["brief"].to_pylist()), words(t.captions["detailed"].to_pylist())
    statuses = [s or "(none)" for s in t.captions["status"].to_pylist()]
    return (_img(plots.linear_histogram([brief, detailed], "words", "captions", "Caption length",
                                        labels=["brief", "detailed"]), "caption length")
            + _img(plots.bar_counts(statuses, "captions", "Caption status"), "caption status"))


def _sample(items: list[str], n: int, seed: int) -> list[str]:
    if len(items) <= n:
        return list(items)
    rng = np.random.default_rng(seed)
    return [items[i] for i in np.sort(rng.choice(len(items), n, replace=False))]


def _thumbnails(release, t: ReleaseTables, config: ReportConfig) -> tuple[str, list[str]]:  # noqa: ANN001
    from partverse.render.objects import png_bytes
    from partverse.report.thumbnails import coloured_render, load_glb

    uids = _sample(t.objects["uid"].to_pylist(), config.thumbnails, config.seed)
    rows = object_rows(release, uids, ["face_labels", "normalized_glb"])
    cells, notes = [], []
    for uid in uids:
        try:
            mesh, labels = _mesh_and_labels(uid, rows.get(uid), load_glb)
            rgba, _ = coloured_render(mesh, labels, config.thumb_size)
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the report
            notes.append(f"thumbnail of {uid}: {exc}")
            continue
        b64 = base64.b64encode(png_bytes(rgba)).decode("ascii")
        cells.append(f'<figure class="thumb">{_img(b64, uid, "thumb")}<figcaption>{html.escape(uid)} · '
                     f'{len(np.unique(labels))} parts</figcaption></figure>')
    return '<div class="grid">' + "".join(cells) + "</div>", notes


def _mesh_and_labels(uid: str, row: dict | None, load_glb):  # noqa: ANN001, ANN202
    if row is None or not row.get("normalized_glb"):
        raise ValueError("no normalized_glb in the objects table")
    mesh = load_glb(uid, row["normalized_glb"])
    labels = np.asarray(row["face_labels"] or [], np.int64)
    if labels.shape != (mesh.num_faces,):
        raise ValueError(f"{labels.size} face labels for a mesh of {mesh.num_faces} faces")
    return mesh, labels


def _caption_samples(release, t: ReleaseTables, config: ReportConfig) -> tuple[str, list[str]]:  # noqa: ANN001
    from partverse.report.thumbnails import highlight_composite, load_glb, object_views

    caps = [c for c in t.captions.to_pylist() if c["part_id"] is not None and c["part_id"] >= 0]
    keys = _sample([f"{c['uid']}\x00{c['part_id']}" for c in caps], config.captions, config.seed)
    keep = set(keys)
    chosen = [c for c in caps if f"{c['uid']}\x00{c['part_id']}" in keep]
    uids = sorted({c["uid"] for c in chosen})
    stored = part_rows(release, uids)
    rows = object_rows(release, uids, ["face_labels", "normalized_glb"]) if uids else {}
    meshes: dict[str, Any] = {}
    out, notes = [], []
    for c in chosen:
        png = _stored_composite(stored.get((c["uid"], int(c["part_id"]))))
        if png is None and not isinstance(meshes.get(c["uid"]), Exception):
            try:
                if c["uid"] not in meshes:
                    mesh, labels = _mesh_and_labels(c["uid"], rows.get(c["uid"]), load_glb)
                    meshes[c["uid"]] = (object_views(mesh, config.thumb_size), labels)
                png = highlight_composite(*meshes[c["uid"]], int(c["part_id"]))
            except Exception as exc:  # noqa: BLE001 - one bad object must not stop the report
                meshes.setdefault(c["uid"], exc)
                notes.append(f"composites of {c['uid']}: {exc}")
        image = (_img(base64.b64encode(png).decode("ascii"), f"{c['uid']} part {c['part_id']}", "composite")
                 if png else '<div class="missing">no image (part hidden or mesh unreadable)</div>')
        out.append(f'<div class="caption">{image}<div><h3>{html.escape(c["uid"])} · part {c["part_id"]}</h3>'
                   f'<p class="brief">{html.escape(c["brief"] or "")}</p><p>{html.escape(c["detailed"] or "")}</p>'
                   f'<p class="status">status: {html.escape(c["status"] or "")}</p></div></div>')
    return ('<div class="captions">' + "".join(out) + "</div>") if out else "<p>no part captions</p>", notes


def _stored_composite(renders: list[dict] | None) -> bytes | None:
    """The pipeline's own highlight composite (what the captioner saw), when the parts table has one."""
    for r in renders or []:
        if r.get("png") and "composite" in (r.get("view") or ""):
            return r["png"]
    return None
