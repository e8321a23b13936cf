"""The local draft store: after every edit the task's labels, names and verdict are written
atomically (temp file, fsync, rename), so a crash or kill -9 never leaves a half-written draft.

Layout: `<root>/<server-key>/task-<id>.npz` with arrays `labels` (F,) int32 and `meta` (a JSON
string: task id, base revision, names, verdict, reason, mesh sha256, saved_at).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(slots=True)
class Draft:
    task_id: int
    base_revision: int
    labels: np.ndarray
    names: dict[str, str] = field(default_factory=dict)
    verdict: str = "ok"
    reason: str | None = None
    mesh_sha256: str = ""
    saved_at: float = 0.0


def default_root() -> Path:
    base = os.environ.get("PARTVERSE_ANNOTATOR_DRAFTS")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "partverse_annotator" / "drafts"


class DraftStore:
    """Drafts of one server (drafts of different servers never mix)."""

    def __init__(self, root: Path | str, server_url: str):
        key = hashlib.sha256(server_url.rstrip("/").encode()).hexdigest()[:16]
        self.dir = Path(root) / key

    def path(self, task_id: int) -> Path:
        return self.dir / f"task-{int(task_id)}.npz"

    def save(self, draft: Draft) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        draft.saved_at = time.time()
        meta = {"task_id": draft.task_id, "base_revision": draft.base_revision, "names": draft.names,
                "verdict": draft.verdict, "reason": draft.reason, "mesh_sha256": draft.mesh_sha256,
                "saved_at": draft.saved_at}
        buf = io.BytesIO()
        np.savez(buf, labels=np.asarray(draft.labels, dtype=np.int32), meta=np.array(json.dumps(meta)))
        target = self.path(draft.task_id)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=target.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getbuffer())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load(self, task_id: int) -> Draft | None:
        """The task's draft, or None when there is none (or it is unreadable: then it is set aside)."""
        path = self.path(task_id)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                labels = z["labels"].astype(np.int32)
        except (OSError, ValueError, KeyError) as exc:
            path.rename(path.with_suffix(f".corrupt-{int(time.time())}"))
            print(f"partverse annotator: draft {path} unreadable ({exc}); set aside")
            return None
        return Draft(meta["task_id"], meta["base_revision"], labels, meta["names"], meta["verdict"],
                     meta["reason"], meta.get("mesh_sha256", ""), meta["saved_at"])

    def delete(self, task_id: int) -> None:
        self.path(task_id).unlink(missing_ok=True)

    def task_ids(self) -> list[int]:
        if not self.dir.exists():
            return []
        return sorted(int(p.stem.split("-")[1]) for p in self.dir.glob("task-*.npz"))
