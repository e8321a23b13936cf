"""Turning rows into response bodies (shared by the routers)."""
from __future__ import annotations

import base64

from fastapi import Response
from sqlalchemy.orm import Session

from annotation_ui.models import Project, Revision, Task
from annotation_ui.schemas import LeasePublic, PackedLabels, TaskDetail, TaskSummary
from annotation_ui.services import lookup


def packed(blob: bytes, count: int) -> PackedLabels:
    return PackedLabels(count=count, data=base64.b64encode(blob).decode("ascii"))


def summary(session: Session, task: Task, project_name: str | None = None,
            names: dict[int, str] | None = None) -> TaskSummary:
    if names is None:
        names = lookup.user_names(session, {task.assignee_id, task.lease_owner_id})
    return TaskSummary(
        id=task.id, project=project_name or session.get(Project, task.project_id).name, uid=task.uid,
        status=task.status, priority=task.priority, revision=task.revision, num_faces=task.num_faces,
        assignee=names.get(task.assignee_id), lease_owner=names.get(task.lease_owner_id),
        lease_expires_at=task.lease_expires_at, updated_at=task.updated_at,
    )


def detail(session: Session, task: Task, response: Response | None = None, rev: Revision | None = None) -> TaskDetail:
    """The task with its latest revision (`rev` when the caller has just written it)."""
    if rev is None or rev.number != task.revision:
        rev = lookup.revision(session, task.id, task.revision)
    names = lookup.user_names(session, {rev.author_id, task.lease_owner_id, task.assignee_id})
    base = summary(session, task, names=names)
    lease = None
    if task.status == "in_progress" and task.lease_owner_id is not None:
        lease = LeasePublic(owner=names[task.lease_owner_id], claimed_at=task.lease_claimed_at,
                            expires_at=task.lease_expires_at)
    if response is not None:
        response.headers["ETag"] = f'"{task.revision}"'
    return TaskDetail(
        **base.model_dump(), mesh_sha256=task.mesh_sha256, mesh_url=f"/api/v1/blobs/{task.mesh_sha256}",
        labels=packed(rev.face_labels_zstd, task.num_faces), part_names=rev.part_names, verdict=rev.verdict,
        reason=rev.reason, revision_kind=rev.kind, revision_author=names[rev.author_id], lease=lease,
    )
