"""Review of submitted tasks: accept (final) or reject back to the same or another annotator."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from annotation_ui.db import transaction

from annotation_ui.errors import Conflict, Forbidden, Invalid, PreconditionFailed
from annotation_ui.models import Review, Task, User, utcnow
from annotation_ui.services import audit, lookup


@transaction
def review(
    session: Session, task_id: int, reviewer: User, base: int, decision: str, comment: str, reassign_to: str | None
) -> Review:
    task = lookup.task(session, task_id)
    if task.status != "submitted":
        raise Conflict(f"task {task.id} is {task.status}; only submitted tasks are reviewed",
                       current_revision=task.revision, status=task.status)
    if task.revision != base:
        raise PreconditionFailed(f"task {task.id}: you reviewed revision {base} but the latest is {task.revision}",
                                 current_revision=task.revision, status=task.status)
    latest = lookup.revision(session, task.id, task.revision)
    if latest.author_id == reviewer.id:
        raise Forbidden(f"task {task.id}: you authored revision {latest.number}, which is under review; "
                        "another reviewer must accept or reject it")
    target = None
    if decision == "reject":
        target = lookup.user(session, reassign_to) if reassign_to else session.get(User, latest.author_id)
        if target.role not in ("annotator", "admin"):
            raise Invalid(f"reassign_to: user {target.name!r} is a {target.role}, not an annotator")
    elif reassign_to:
        raise Invalid("reassign_to: only a rejected task is reassigned")
    now = utcnow()
    values = (
        {"status": "accepted", "accepted_revision": base} if decision == "accept"
        else {"status": "queued", "assignee_id": target.id}
    )
    won = session.execute(
        update(Task).where(Task.id == task.id, Task.revision == base, Task.status == "submitted")
        .values(updated_at=now, **values).execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        session.rollback()
        raise Conflict(f"task {task_id} changed while you reviewed it; reload")
    row = Review(task_id=task.id, revision=base, reviewer_id=reviewer.id, decision=decision, comment=comment,
                 reassigned_to_id=target.id if target else None, created_at=now)
    session.add(row)
    audit.record(session, reviewer, f"review.{decision}", task=task, revision=base, comment=comment,
                 reassigned_to=target.name if target else None)
    session.commit()
    return row
