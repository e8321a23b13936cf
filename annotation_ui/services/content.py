"""A revision's content (labels, names, verdict) read through a per-process cache, and its stored form.

Stored form (see models.Revision): a snapshot (the whole zstd (F,) int32 array) or a delta (the
changed faces relative to the previous revision). A new revision is a delta unless its chain would
reach MAX_CHAIN deltas or it changes more than a quarter of the faces, so reading any revision is
one range query and at most MAX_CHAIN small patches.

The cache maps a task to the content of one revision number. The database stays the truth: a
caller asks for (task, number), having read `tasks.revision` or guarded its write on it, and an
entry is used only for that exact number. Entries are added only for committed revisions, whose
content never changes (append-only), so any number of server processes may each keep their own.
"""
from __future__ import annotations

import base64
import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotation_ui import labels as L
from annotation_ui.errors import NotFound
from annotation_ui.models import Revision

MAX_CHAIN = 16  # deltas after a snapshot before the next snapshot (migration 0003 uses the same)
_R = Revision.__table__.c
_CHAIN = (
    select(_R.number, _R.kind, _R.face_labels_zstd, _R.labels_delta, _R.snapshot_number, _R.part_names, _R.verdict,
           _R.reason, _R.author_id, _R.created_at)
    .where(_R.task_id == bindparam("task_id"), _R.number <= bindparam("number"),
           _R.number >= select(_R.snapshot_number).where(_R.task_id == bindparam("task_id"),
                                                       _R.number == bindparam("number")).scalar_subquery())
    .order_by(_R.number)
)


@dataclass(slots=True)
class Content:
    """Revision `number` of a task: (F,) int32 read-only labels, part names, verdict, and who wrote it."""

    number: int
    labels: np.ndarray
    part_names: dict[str, str]
    verdict: str = "ok"
    reason: str | None = None
    kind: str = "initial"
    author_id: int = 0
    created_at: dt.datetime | None = None
    snapshot_number: int = 1
    _packed: str | None = field(default=None, repr=False)

    @property
    def num_faces(self) -> int:
        return int(self.labels.shape[0])

    def packed(self) -> str:
        """The labels as base64 zstd int32 (the API's transport form), encoded once per revision."""
        if self._packed is None:
            self._packed = L.encode_b64(self.labels)
        return self._packed

    def changed(self, labels: np.ndarray | None = None, part_names: dict[str, str] | None = None,
                verdict: str | None = None, reason: str | None = None, packed: str | None = None) -> "Content":
        """A successor (number not yet assigned) with what is given replaced; `packed` encodes `labels` if known."""
        same = labels is None or labels is self.labels
        if not same and np.array_equal(labels, self.labels):
            same = True  # a full save of unchanged labels keeps the old array and its encoding
        if not same:
            labels.setflags(write=False)
        return Content(
            number=0, labels=self.labels if same else labels,
            part_names=self.part_names if part_names is None else part_names,
            verdict=self.verdict if verdict is None else verdict,
            reason=self.reason if verdict is None else reason,
            _packed=self._packed if same else packed,
        )


class LabelCache:
    """Thread-safe LRU of task id -> Content, bounded by the bytes of the label arrays it holds."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, Content] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, task_id: int, number: int) -> Content | None:
        with self._lock:
            hit = self._entries.get(task_id)
            if hit is None or hit.number != number:
                return None
            self._entries.move_to_end(task_id)
            return hit

    def put(self, task_id: int, content: Content) -> None:
        """Keep `content` (a committed revision) unless a later revision of the task is already cached."""
        with self._lock:
            old = self._entries.get(task_id)
            if old is not None:
                if old.number > content.number:
                    return
                self._bytes -= old.labels.nbytes
            self._entries[task_id] = content
            self._entries.move_to_end(task_id)
            self._bytes += content.labels.nbytes
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.labels.nbytes


def cache_of(session: Session) -> LabelCache | None:
    """The app's cache (handed to every session by `create_app` through `Session.info`), or None."""
    return session.info.get("label_cache")


def cached(session: Session, task_id: int, number: int) -> Content | None:
    """Revision `number` of `task_id` if this process's cache holds it, else None (no database access)."""
    cache = cache_of(session)
    return cache.get(task_id, number) if cache is not None else None


def load(session: Session, task_id: int, number: int, num_faces: int) -> Content:
    """Revision `number` of task `task_id`: from the cache if it holds that number, else snapshot + deltas."""
    cache = cache_of(session)
    hit = cache.get(task_id, number) if cache is not None else None
    if hit is not None:
        return hit
    rows = session.execute(_CHAIN, {"task_id": task_id, "number": number}).all()
    if not rows or rows[-1].number != number:
        raise NotFound(f"task {task_id} has no revision {number}")
    first, last = rows[0], rows[-1]
    if first.labels_delta or len(rows) != number - first.number + 1:
        raise RuntimeError(f"task {task_id} revision {number}: its delta chain from {first.number} is broken")
    labels = L.decode(first.face_labels_zstd, num_faces)
    for row in rows[1:]:
        labels = L.apply_delta(labels, row.face_labels_zstd)
    labels.setflags(write=False)
    packed = base64.b64encode(first.face_labels_zstd).decode("ascii") if len(rows) == 1 else None
    content = Content(number=number, labels=labels, part_names=dict(last.part_names or {}), verdict=last.verdict,
                      reason=last.reason, kind=last.kind, author_id=last.author_id, created_at=last.created_at,
                      snapshot_number=last.snapshot_number, _packed=packed)
    if cache is not None:
        cache.put(task_id, content)
    return content


def stored_form(base: Content, new: Content, number: int) -> tuple[bytes, bool, int]:
    """How revision `number` (= base.number + 1) holding `new` is stored: (blob, is_delta, snapshot_number)."""
    if number - base.snapshot_number < MAX_CHAIN:
        if new.labels is base.labels:
            return L.encode(np.zeros(0, np.int32)), True, base.snapshot_number
        blob, changed = L.encode_delta(base.labels, new.labels)
        if changed <= new.num_faces // 4:
            return blob, True, base.snapshot_number
    blob = L.encode(new.labels)
    if new._packed is None:
        new._packed = base64.b64encode(blob).decode("ascii")
    return blob, False, number
