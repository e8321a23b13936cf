"""One open task: its labels and names, the edit history and the local draft, without bpy.

Every edit goes through `apply()`, which records it for undo and writes the draft before returning,
so a crash right after an edit loses nothing. Server writes name the revision the edits are based
on; a stale base is refused by the server (StaleTaskError) and never overwrites anything.
"""
from __future__ import annotations

import numpy as np

from . import labels as L
from .client import Client
from .drafts import Draft, DraftStore
from .errors import LabelOpError
from .history import History


class TaskSession:
    """labels: (F,) int32 segment ids of the task's faces, in the GLB face order (core/glb.py)."""

    def __init__(self, detail: dict, store: DraftStore, restore: bool = True):
        self.detail = detail
        self.task_id = int(detail["id"])
        self.revision = int(detail["revision"])
        self.labels = L.unpack(detail["labels"])
        self.names = dict(detail.get("part_names") or {})
        self.verdict = detail.get("verdict", "ok")
        self.reason = detail.get("reason")
        self.store = store
        self.history = History()
        self.notice = ""
        self.restored = False
        if restore:
            self._restore(store.load(self.task_id))

    def _restore(self, draft: Draft | None) -> None:
        if draft is None or draft.labels.shape != self.labels.shape or \
                (draft.mesh_sha256 and draft.mesh_sha256 != self.detail.get("mesh_sha256")):
            return
        self.labels, self.names, self.verdict, self.reason = draft.labels, draft.names, draft.verdict, draft.reason
        self.restored = True
        if draft.base_revision != self.revision:
            self.notice = (f"Restored your local draft (based on revision {draft.base_revision}); the server now has "
                           f"revision {self.revision}. Submit will be refused: Reload keeps the server's version, "
                           "Keep Mine rebases your draft onto it.")
            self.revision = draft.base_revision
        else:
            self.notice = "Restored your unsaved edits from the local draft."

    def save_draft(self) -> None:
        self.store.save(Draft(self.task_id, self.revision, self.labels, self.names, self.verdict, self.reason,
                              self.detail.get("mesh_sha256", "")))

    def apply(self, kind: str, labels: np.ndarray, names: dict[str, str]) -> np.ndarray:
        """Make (labels, names) current, record the step and write the draft; returns changed faces."""
        changed = np.flatnonzero(labels != self.labels)
        self.history.record(kind, self.labels, labels, self.names, names)
        self.labels, self.names = labels, names
        self.save_draft()
        return changed

    # edits
    def merge(self, faces: np.ndarray) -> np.ndarray:
        return self.apply("merge", *L.merge(self.labels, self.names, faces))

    def split(self, faces: np.ndarray, name: str | None = None) -> np.ndarray:
        labels, names, _ = L.split(self.labels, self.names, faces, name)
        return self.apply("split", labels, names)

    def rename(self, segment: int, name: str) -> np.ndarray:
        return self.apply("rename", self.labels, L.rename(self.labels, self.names, segment, name))

    def set_rejected(self, reason: str | None) -> None:
        """Mark the object rejected with `reason` (None: not rejected); sent on submit."""
        if reason is not None and not reason.strip():
            raise LabelOpError("reject: give a reason")
        self.verdict, self.reason = ("rejected", reason.strip()) if reason else ("ok", None)
        self.save_draft()

    def undo(self) -> str | None:
        return self._step(self.history.undo(self.labels))

    def redo(self) -> str | None:
        return self._step(self.history.redo(self.labels))

    def _step(self, result) -> str | None:  # noqa: ANN001
        if result is None:
            return None
        self.labels, self.names, kind = result
        self.save_draft()
        return kind

    # server (called on the worker thread; they only read the session's arrays)
    def submit(self, client: Client) -> dict:
        """Send labels, names and verdict; the lease ends and the draft is removed. Returns TaskDetail."""
        labels, names, base = self.labels.copy(), dict(self.names), self.revision
        if self.verdict == "rejected":
            base = self.revision = int(client.reject(self.task_id, base, self.reason or "other")["revision"])
        detail = client.submit(self.task_id, base, labels, names)
        self.store.delete(self.task_id)
        return detail

    def push_draft(self, client: Client) -> dict:
        """Store the current labels as a server draft (a new revision); returns TaskDetail."""
        return client.draft(self.task_id, self.revision, self.labels.copy(), dict(self.names))

    def rebase(self, latest: dict) -> None:
        """Keep the local labels but base them on the server's latest revision `latest` (TaskDetail)."""
        self.detail, self.revision = latest, int(latest["revision"])
        self.notice = ""
        self.save_draft()
