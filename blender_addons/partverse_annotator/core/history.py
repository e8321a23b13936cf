"""Undo / redo of label edits as compact diffs (changed faces only), so 1M-face tasks stay cheap.

Blender's own undo does not reliably restore attribute edits made from Python, so the add-on keeps
its own history of (labels, names) states.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Step:
    """One edit: faces (k,) int64 that changed, their old and new ids (k,) int32, names before/after."""

    kind: str
    faces: np.ndarray
    before: np.ndarray
    after: np.ndarray
    names_before: dict[str, str]
    names_after: dict[str, str]


class History:
    """A bounded undo stack and a redo stack; a new edit clears redo."""

    def __init__(self, limit: int = 200):
        self.limit = limit
        self.undo_steps: list[Step] = []
        self.redo_steps: list[Step] = []

    def record(self, kind: str, old: np.ndarray, new: np.ndarray, old_names: dict, new_names: dict) -> None:
        """Remember the change from (old labels, names) to (new labels, names), both (F,) int32."""
        faces = np.flatnonzero(old != new)
        self.undo_steps.append(Step(kind, faces, old[faces], new[faces], dict(old_names), dict(new_names)))
        del self.undo_steps[:-self.limit]
        self.redo_steps.clear()

    def undo(self, labels: np.ndarray) -> tuple[np.ndarray, dict[str, str], str] | None:
        """(labels, names, kind) before the last edit, or None when there is nothing to undo."""
        if not self.undo_steps:
            return None
        step = self.undo_steps.pop()
        self.redo_steps.append(step)
        out = labels.copy()
        out[step.faces] = step.before
        return out, dict(step.names_before), step.kind

    def redo(self, labels: np.ndarray) -> tuple[np.ndarray, dict[str, str], str] | None:
        if not self.redo_steps:
            return None
        step = self.redo_steps.pop()
        self.undo_steps.append(step)
        out = labels.copy()
        out[step.faces] = step.after
        return out, dict(step.names_after), step.kind

    def clear(self) -> None:
        self.undo_steps.clear()
        self.redo_steps.clear()
