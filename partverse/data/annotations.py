"""Human annotations handed from the annotation server back to the pipeline.

One file per object, `<dir>/<uid>.npz`, written atomically: `face_labels` (F,) int32 and a JSON
header with part names, status, reason, author, revision and time. `partverse annotate pull`
writes these; the pipeline's annotation stage reads them so a build uses human labels where
they exist (label_source "human") and automatic labels elsewhere.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from partverse.fsutil import atomic_write_bytes
from partverse.records import Annotation


def save_annotation(directory: str | Path, ann: Annotation) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header = {
        "uid": ann.uid,
        "part_names": {str(k): v for k, v in ann.part_names.items()},
        "status": ann.status,
        "reason": ann.reason,
        "author": ann.author,
        "revision": ann.revision,
        "updated_at": ann.updated_at,
    }
    buf = io.BytesIO()
    np.savez(buf, face_labels=np.asarray(ann.face_labels, dtype=np.int32), header=np.array(json.dumps(header)))
    target = directory / f"{ann.uid}.npz"
    atomic_write_bytes(target, buf.getvalue())
    return target


def load_annotation(directory: str | Path, uid: str) -> Annotation | None:
    path = Path(directory) / f"{uid}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        labels = data["face_labels"].astype(np.int32)
    return Annotation(
        uid=header["uid"],
        face_labels=labels,
        part_names={int(k): v for k, v in header["part_names"].items()},
        status=header["status"],
        reason=header["reason"],
        author=header["author"],
        revision=int(header["revision"]),
        updated_at=header.get("updated_at"),
    )
