"""Tasks: claim the next one, lease renew / release, read, save draft, submit, edit operations.

Writes need `If-Match: "<revision>"` (the ETag of GET /tasks/{id}); a stale one is answered 412,
a missing one 428, a write without a live lease 409. Each successful write answers the new task
state with its new ETag.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from annotation_ui.deps import Annotator, AnyUser, BaseRevision, SessionDep, SettingsDep, TaskId
from annotation_ui.models import Revision
from annotation_ui.routers import views
from annotation_ui.schemas import (
    ClaimResult, Conflict, DraftIn, LeasePublic, MergeIn, Message, PackedLabels, RejectIn, RenameIn, RevisionDetail, RevisionPublic,
    SplitIn, SubmitIn, TaskDetail,
)
from annotation_ui.services import content, leases, lookup, revisions

router = APIRouter(tags=["tasks"])
WRITE_ERRORS = {
    404: {"model": Message}, 409: {"model": Conflict, "description": "no live lease, or task submitted"},
    412: {"model": Conflict, "description": "If-Match is not the latest revision"},
    422: {"model": Message}, 428: {"model": Message, "description": "If-Match missing"},
}


@router.post("/projects/{name}/claim", response_model=ClaimResult,
             responses={204: {"description": "queue empty: no task available"}, 404: {"model": Message}})
def claim_next(user: Annotator, name: str, session: SessionDep, settings: SettingsDep):
    """Lease the next task (your own live lease in this project first). 204 when the queue is empty."""
    task = leases.claim_next(session, name, user, settings.lease_seconds)
    if task is None:
        return Response(status_code=204)
    detail = views.detail_body(session, task)
    return views.json_response({"task": detail, "lease": detail["lease"]}, etag=task.revision)


@router.get("/tasks/{task_id}", response_model=TaskDetail, responses={404: {"model": Message}})
def get_task(_: AnyUser, task_id: TaskId, session: SessionDep) -> TaskDetail:
    """The task with its latest labels (zstd int32), part names and mesh URL; ETag = revision."""
    return views.detail(session, revisions.task_row(session, task_id))


@router.get("/tasks/{task_id}/revisions", response_model=list[RevisionPublic], responses={404: {"model": Message}})
def revision_history(_: AnyUser, task_id: TaskId, session: SessionDep) -> list[RevisionPublic]:
    """Every revision of the task (append-only), oldest first, without labels."""
    lookup.task(session, task_id)
    rows = session.scalars(select(Revision).where(Revision.task_id == task_id).order_by(Revision.number)).all()
    names = lookup.user_names(session, {r.author_id for r in rows})
    return [RevisionPublic(number=r.number, kind=r.kind, verdict=r.verdict, reason=r.reason,
                           author=names[r.author_id], created_at=r.created_at) for r in rows]


@router.get("/tasks/{task_id}/revisions/{number}", response_model=RevisionDetail, responses={404: {"model": Message}})
def get_revision(_: AnyUser, task_id: TaskId, number: Annotated[int, Path(ge=1, le=2**31 - 1)],
                 session: SessionDep) -> RevisionDetail:
    """One revision with its labels, e.g. to compare a submission with the automatic labels (revision 1)."""
    task = revisions.task_row(session, task_id)
    r = content.load(session, task_id, number, task.num_faces)
    return RevisionDetail(number=r.number, kind=r.kind, verdict=r.verdict, reason=r.reason,
                          author=lookup.user_names(session, {r.author_id})[r.author_id], created_at=r.created_at,
                          labels=PackedLabels(count=task.num_faces, data=r.packed()), part_names=r.part_names)


@router.post("/tasks/{task_id}/lease/renew", response_model=LeasePublic, responses=WRITE_ERRORS)
def renew_lease(user: Annotator, task_id: TaskId, session: SessionDep, settings: SettingsDep) -> LeasePublic:
    task = leases.renew(session, task_id, user, settings.lease_seconds)
    return LeasePublic(owner=user.name, claimed_at=task.lease_claimed_at, expires_at=task.lease_expires_at)


@router.delete("/tasks/{task_id}/lease", response_model=TaskDetail, responses=WRITE_ERRORS)
def release_lease(user: Annotator, task_id: TaskId, session: SessionDep) -> TaskDetail:
    """Give the task back to the queue; its drafts are kept for whoever claims it next."""
    return views.detail(session, leases.release(session, task_id, user))


@router.put("/tasks/{task_id}/draft", response_model=TaskDetail, responses=WRITE_ERRORS)
def save_draft(user: Annotator, task_id: TaskId, base: BaseRevision, body: DraftIn, session: SessionDep) -> TaskDetail:
    """Save the whole state (labels, names, optionally the verdict) as a new revision; the lease goes on."""
    edit = revisions.replace_edit(body.labels, body.part_names, body.verdict, body.reason)
    task, new = revisions.write(session, task_id, user, base, "draft", edit)
    return views.detail(session, task, new)


@router.post("/tasks/{task_id}/submit", response_model=TaskDetail, responses=WRITE_ERRORS)
def submit(user: Annotator, task_id: TaskId, base: BaseRevision, session: SessionDep,
           body: SubmitIn | None = None) -> TaskDetail:
    """Finish the task: the latest revision (or these labels) goes to review; the lease ends."""
    body = body or SubmitIn()
    edit = revisions.replace_edit(body.labels, body.part_names)
    task, new = revisions.write(session, task_id, user, base, "submit", edit, submit=True)
    return views.detail(session, task, new)


@router.post("/tasks/{task_id}/ops/merge", response_model=TaskDetail, responses=WRITE_ERRORS)
def merge(user: Annotator, task_id: TaskId, base: BaseRevision, body: MergeIn, session: SessionDep) -> TaskDetail:
    """Merge segments into the smallest of their ids."""
    task, new = revisions.write(session, task_id, user, base, "merge", revisions.merge_edit(body.segments))
    return views.detail(session, task, new)


@router.post("/tasks/{task_id}/ops/split", response_model=TaskDetail, responses=WRITE_ERRORS)
def split(user: Annotator, task_id: TaskId, base: BaseRevision, body: SplitIn, session: SessionDep) -> TaskDetail:
    """Move faces to a new segment (id = largest label + 1), optionally named."""
    task, new = revisions.write(session, task_id, user, base, "split", revisions.split_edit(body.faces, body.name))
    return views.detail(session, task, new)


@router.post("/tasks/{task_id}/ops/rename", response_model=TaskDetail, responses=WRITE_ERRORS)
def rename(user: Annotator, task_id: TaskId, base: BaseRevision, body: RenameIn, session: SessionDep) -> TaskDetail:
    task, new = revisions.write(session, task_id, user, base, "rename", revisions.rename_edit(body.segment, body.name))
    return views.detail(session, task, new)


@router.post("/tasks/{task_id}/ops/reject", response_model=TaskDetail, responses=WRITE_ERRORS)
def reject(user: Annotator, task_id: TaskId, base: BaseRevision, body: RejectIn, session: SessionDep) -> TaskDetail:
    """Mark the object unsuitable, with a reason (then submit it for review)."""
    task, new = revisions.write(session, task_id, user, base, "reject", revisions.reject_edit(body.reason))
    return views.detail(session, task, new)
