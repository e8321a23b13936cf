"""The released PartVerse layout, both ways.

    textured_part_glbs/<uid>/<part_id>.glb     one GLB per part
    normalized_glbs/<uid>.glb                   the whole object in the normalized frame
    anno_infos/<uid>/<uid>_face2label.json      {"<face index>": label} over the normalized GLB's faces
    anno_infos/<uid>/<uid>_info.json            part order, names, boxes, licence, source (partverse adds
                                                licence and source so a round trip keeps them)
    text_captions.json                          {uid: {"<part_id>": [brief, detailed]}}

Import reads the normalized GLB with trimesh (`Scene.dump(concatenate=True)` face order, the order
face2label refers to), keeps the part GLBs as they are and re-samples surface points per part.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from partverse.data import manifest as mf
from partverse.data.location import locate
from partverse.data.reader import read_table
from partverse.data.rows import object_rows
from partverse.data.schema import NUM_SAMPLES
from partverse.data.writer import write_release


class LayoutError(mf.ReleaseError):
    """A PartVerse-layout directory that cannot be read: names the file and the problem."""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_partverse_layout(release: str | Path, out: str | Path, version: str | None = None) -> int:
    """Write the PartVerse layout of a release into `out`; returns the number of objects."""
    loc = locate(release, version)
    out = Path(out)
    captions: dict[str, dict[str, list[str]]] = {}
    count = 0
    for shard, names in enumerate(zip(*(mf.table_files(loc.manifest, t) for t in ("objects", "parts")))):
        objects = read_table(loc.file_path(names[0]), filesystem=loc.filesystem).to_pylist()
        parts = read_table(loc.file_path(names[1]), ["uid", "part_id", "name", "bbox_min", "bbox_max", "glb", "license"],
                           loc.filesystem).to_pylist()
        by_uid: dict[str, list[dict]] = {}
        for p in parts:
            by_uid.setdefault(p["uid"], []).append(p)
        for obj in objects:
            _export_object(out, obj, by_uid.get(obj["uid"], []))
            count += 1
    if "captions" in loc.manifest["tables"]:
        for name in mf.table_files(loc.manifest, "captions"):
            for c in read_table(loc.file_path(name), ["uid", "part_id", "brief", "detailed"], loc.filesystem).to_pylist():
                captions.setdefault(c["uid"], {})[str(c["part_id"])] = [c["brief"] or "", c["detailed"] or ""]
    _write(out / "text_captions.json", json.dumps(captions, indent=1, sort_keys=True).encode())
    return count


def _export_object(out: Path, obj: dict, parts: list[dict]) -> None:
    uid = obj["uid"]
    if obj.get("normalized_glb"):
        _write(out / "normalized_glbs" / f"{uid}.glb", obj["normalized_glb"])
    for p in parts:
        if p.get("glb"):
            _write(out / "textured_part_glbs" / uid / f"{p['part_id']}.glb", p["glb"])
    labels = obj.get("face_labels") or []
    face2label = {str(i): int(label) for i, label in enumerate(labels)}
    anno = out / "anno_infos" / uid
    _write(anno / f"{uid}_face2label.json", json.dumps(face2label).encode())
    info = {
        "uid": uid,
        "part_order": [p["part_id"] for p in parts],
        "parts": [{"part_id": p["part_id"], "name": p["name"], "bbox": [p["bbox_min"], p["bbox_max"]]} for p in parts],
        "license": obj.get("license"),
        "source": obj.get("source"),
        "source_uri": obj.get("source_uri"),
        "sha256": obj.get("sha256"),
        "label_source": obj.get("label_source"),
        "segmentation_method": obj.get("segmentation_method"),
        "metadata": json.loads(obj.get("metadata_json") or "{}"),
    }
    _write(anno / f"{uid}_info.json", json.dumps(info, indent=1).encode())


def _load_faces(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    try:
        scene = trimesh.load(str(path), force="scene", process=False)
        mesh = scene.dump(concatenate=True)
    except Exception as exc:  # trimesh raises many types on bad files
        raise LayoutError(f"{path}: cannot load the normalized GLB ({exc})") from exc
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: {exc}") from exc


def _import_object(root: Path, uid: str, licence: str | None, num_samples: int):
    anno = root / "anno_infos" / uid
    f2l_path = anno / f"{uid}_face2label.json"
    face2label = _read_json(f2l_path)
    info = _read_json(anno / f"{uid}_info.json") if (anno / f"{uid}_info.json").is_file() else {}
    vertices, faces = _load_faces(root / "normalized_glbs" / f"{uid}.glb")
    labels = np.full(len(faces), -1, np.int32)
    idx = np.fromiter((int(k) for k in face2label), np.int64, len(face2label))
    if len(idx) != len(faces) or (len(idx) and (idx.min() < 0 or idx.max() >= len(faces))):
        raise LayoutError(f"{f2l_path}: {len(idx)} face labels for {len(faces)} faces of normalized_glbs/{uid}.glb")
    labels[idx] = np.fromiter((int(v) for v in face2label.values()), np.int32, len(face2label))
    names = {p["part_id"]: p["name"] for p in info.get("parts", [])}
    glbs = {}
    for path in (root / "textured_part_glbs" / uid).glob("*.glb"):
        if path.stem.lstrip("-").isdigit():
            glbs[int(path.stem)] = path.read_bytes()
    return object_rows(
        uid, vertices, faces, labels, license=info.get("license") or licence, source=info.get("source") or "partverse-layout",
        source_uri=info.get("source_uri") or str(root / "normalized_glbs" / f"{uid}.glb"), part_names=names, part_glbs=glbs,
        normalized_glb=(root / "normalized_glbs" / f"{uid}.glb").read_bytes(), label_source=info.get("label_source") or "human",
        segmentation_method=info.get("segmentation_method") or "partverse", num_samples=num_samples,
        metadata=info.get("metadata"), sha256=info.get("sha256") or "",
    )


def _caption_rows(root: Path, parts: list[dict]) -> list[dict]:
    path = root / "text_captions.json"
    if not path.is_file():
        return []
    captions = _read_json(path)
    by_name = {(p["uid"], p["name"]): p["part_id"] for p in parts}
    rows = []
    for uid, per_part in captions.items():
        for key, value in per_part.items():
            pid = int(key) if key.lstrip("-").isdigit() else by_name.get((uid, key))
            if pid is None:
                raise LayoutError(f"{path}: caption for {uid}/{key!r} names no part of that object")
            brief, detailed = (list(value) + ["", ""])[:2] if isinstance(value, list) else (str(value), "")
            rows.append({"uid": uid, "part_id": pid, "brief": brief, "detailed": detailed, "status": "ok",
                         "backend": "partverse-layout"})
    return rows


def import_partverse_layout(
    directory: str | Path, out: str | Path, *, version: str, licence: str | None = None,
    num_samples: int = NUM_SAMPLES, **writer_kw,
) -> dict[str, Any]:
    """Read a PartVerse-layout directory into a release directory; returns its manifest."""
    root = Path(directory)
    if not (root / "anno_infos").is_dir():
        raise LayoutError(f"{root}: not a PartVerse layout (no anno_infos/ folder)")
    objects, parts = [], []
    for anno in sorted(p for p in (root / "anno_infos").iterdir() if p.is_dir()):
        obj, ps = _import_object(root, anno.name, licence, num_samples)
        objects.append(obj)
        parts += ps
    known = {o["uid"] for o in objects}
    captions = [c for c in _caption_rows(root, parts) if c["uid"] in known]
    return write_release(out, objects, parts, captions, version=version, source_run=str(root), num_samples=num_samples, **writer_kw)
