"""Writing revisions: drafts, submits and server-side edit operations, never losing an update.

Every write names the revision it is based on (If-Match). It is refused with 409 when the writer
holds no live lease (expired, released, submitted, someone else's) and with 412 when the base is
not the latest revision. The final guard is one statement, `UPDATE tasks SET revision = base + 1
WHERE id = ? AND revision = base AND <lease still live>`, whose row count decides the race; the
new revision row is inserted in the same transaction (and is unique per task and number).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from annotation_ui.db import writing

from annotation_ui import labels as L
from annotation_ui.errors import Conflict, Invalid, PreconditionFailed
from annotation_ui.models import Revision, Task, User, utcnow
from annotation_ui.services import audit, lookup
from annotation_ui.services.leases import live_lease_problem


@dataclass(slots=True)
class Content:
    """A revision's content: (F,) int32 labels (decoded lazily), part names, verdict and reason."""

    blob: bytes
    num_faces: int
    part_names: dict[str, str]
    verdict: str = "ok"
    reason: str | None = None
    _labels: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = L.decode(self.blob, self.num_faces)
        return self._labels

    def with_labels(self, labels: np.ndarray, part_names: dict[str, str]) -> "Content":
        return Content(L.encode(labels), self.num_faces, part_names, self.verdict, self.reason, labels)


Edit = Callable[[Content], Content]


def _refuse(task: Task, user: User, base: int) -> None:
    problem = live_lease_problem(task, user, utcnow())
    if problem:
        raise Conflict(problem, current_revision=task.revision, status=task.status)
    if task.revision != base:
        raise PreconditionFailed(
            f"task {task.id}: your change is based on revision {base} but the latest is {task.revision}; "
            "reload and reapply", current_revision=task.revision, status=task.status,
        )


def write(
    session: Session, task_id: int, user: User, base: int, kind: str, edit: Edit, *, submit: bool = False
) -> tuple[Task, Revision]:
    """Apply `edit` to the latest revision of `task_id`, store the result as revision base + 1; return both.

    The edit is computed outside the write lock from revision `base`; the guarded UPDATE then
    succeeds only if `base` is still the latest, so the stored result is never based on stale labels.
    """
    task = lookup.task(session, task_id)
    _refuse(task, user, base)
    latest = lookup.revision(session, task.id, base)
    try:
        new = edit(Content(latest.face_labels_zstd, task.num_faces, dict(latest.part_names), latest.verdict,
                           latest.reason))
    except L.LabelError as exc:
        raise Invalid(f"task {task.id}: {exc}") from None
    with writing(session):
        now = utcnow()
        values: dict[str, object] = {"revision": base + 1, "updated_at": now}
        if submit:
            values.update(status="submitted", lease_owner_id=None, lease_claimed_at=None, lease_expires_at=None,
                          assignee_id=None)
        claimed_at = session.scalar(select(Task.lease_claimed_at).where(Task.id == task_id))
        won = session.execute(
            update(Task).where(
                Task.id == task_id, Task.revision == base, Task.status == "in_progress",
                Task.lease_owner_id == user.id, Task.lease_expires_at >= now,
            ).values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if not won:
            session.rollback()
            _refuse(lookup.task(session, task_id), user, base)
            raise Conflict(f"task {task_id}: the write lost a race; reload", current_revision=None)
        work = (now - claimed_at).total_seconds() if submit and claimed_at else None
        row = Revision(
            task_id=task_id, number=base + 1, kind=kind, face_labels_zstd=new.blob, part_names=new.part_names,
            verdict=new.verdict, reason=new.reason, author_id=user.id, work_seconds=work, created_at=now,
        )
        session.add(row)
        audit.record(session, user, f"revision.{kind}", task=task, revision=base + 1, verdict=new.verdict)
    return session.get(Task, task_id, populate_existing=True), row


def replace_edit(packed_labels, part_names: dict[str, str] | None, verdict: str | None = None,  # noqa: ANN001
                 reason: str | None = None) -> Edit:
    """An edit that replaces labels (a PackedLabels) and names; the verdict too when given."""
    if verdict == "rejected" and not (reason or "").strip():
        raise Invalid("reason: a rejected verdict needs a reason")

    def edit(cur: Content) -> Content:
        if verdict is not None:
            cur = Content(cur.blob, cur.num_faces, cur.part_names, verdict,
                          reason.strip() if verdict == "rejected" else None, cur._labels)
        if packed_labels is None:
            if part_names is None:
                return cur
            return Content(cur.blob, cur.num_faces, L.validate_names(part_names, cur.labels), cur.verdict, cur.reason)
        if packed_labels.count != cur.num_faces:
            raise L.LabelError(f"labels.count is {packed_labels.count}, the mesh has {cur.num_faces} faces")
        labels = L.validate(L.decode_b64(packed_labels.data, packed_labels.count), cur.num_faces)
        return cur.with_labels(labels, L.validate_names(part_names or {}, labels))

    return edit


def merge_edit(segments: list[int]) -> Edit:
    def edit(cur: Content) -> Content:
        return cur.with_labels(*L.merge(cur.labels, cur.part_names, segments))

    return edit


def split_edit(faces: list[int], name: str | None) -> Edit:
    def edit(cur: Content) -> Content:
        labels, names, _ = L.split(cur.labels, cur.part_names, faces, name)
        return cur.with_labels(labels, names)

    return edit


def rename_edit(segment: int, name: str) -> Edit:
    def edit(cur: Content) -> Content:
        return Content(cur.blob, cur.num_faces, L.rename(cur.labels, cur.part_names, segment, name), cur.verdict,
                       cur.reason)

    return edit


def reject_edit(reason: str) -> Edit:
    def edit(cur: Content) -> Content:
        return Content(cur.blob, cur.num_faces, cur.part_names, "rejected", reason.strip())

    return edit
