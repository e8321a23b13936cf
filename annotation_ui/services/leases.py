"""Claiming the next task, renewing and releasing leases, all as single guarded UPDATEs.

Claim is one write transaction: `SELECT id ... LIMIT 1 [FOR UPDATE SKIP LOCKED]` per queue, then
`UPDATE tasks ... WHERE id = ?`. SQLite serialises it under BEGIN IMMEDIATE; on PostgreSQL the row
lock keeps the picked row ours until commit, and SKIP LOCKED lets concurrent claimers pass over a
row another transaction is taking. An expired lease makes its task claimable again. The statements
are built once at import (bind parameters only), so a claim costs no SQL construction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session

from annotation_ui.db import transaction, writing

from annotation_ui.errors import Conflict
from annotation_ui.models import AuditEvent, Task, User, utcnow
from annotation_ui.services import audit, lookup


_T = Task.__table__.c
_AVAILABLE = or_(_T.status == "queued", and_(_T.status == "in_progress", _T.lease_expires_at < bindparam("now")))
_P, _U = bindparam("project_id"), bindparam("user_id")
# Where the next task comes from, in order, each an index-friendly condition and ordering:
# 1. your own expired lease (resume your work) and tasks a reviewer sent back to you;
# 2. other expired leases (work someone abandoned);
# 3. the queue, by priority then age (index ix_tasks_queue_order).
_QUEUES = [
    select(_T.id).where(_T.project_id == _P, or_(_T.lease_owner_id == _U, _T.assignee_id == _U), _AVAILABLE,
                        or_(_T.assignee_id.is_(None), _T.assignee_id == _U))
    .order_by(case((_T.lease_owner_id == _U, 0), else_=1), _T.priority.desc(), _T.id),
    select(_T.id).where(_T.project_id == _P, _T.status == "in_progress", _T.lease_expires_at < bindparam("now"),
                        _T.assignee_id.is_(None)).order_by(_T.priority.desc(), _T.id),
    select(_T.id).where(_T.project_id == _P, _T.status == "queued", _T.assignee_id.is_(None))
    .order_by(_T.priority.desc(), _T.id),
]
# PostgreSQL: lock the picked row and pass over rows other claimers are taking (SQLite holds the
# database write lock under BEGIN IMMEDIATE, and renders no FOR UPDATE)
_QUEUES = [q.limit(1).with_for_update(skip_locked=True) for q in _QUEUES]
_HELD = (select(*Task.__table__.c).where(_T.project_id == _P, _T.status == "in_progress", _T.lease_owner_id == _U,
                                          _T.lease_expires_at >= bindparam("now")).order_by(_T.id).limit(1))
_TAKE = (update(Task.__table__).where(_T.id == bindparam("task_id"))
         .values(status="in_progress", lease_owner_id=_U, lease_claimed_at=bindparam("now"),
                 lease_expires_at=bindparam("expires"), updated_at=bindparam("now"))
         .returning(*Task.__table__.c))
_AUDIT = insert(AuditEvent.__table__)


def claim_next(session: Session, project_name: str, user: User, lease_seconds: float):  # noqa: ANN201
    """Lease the next task to `user` (their own live lease first, so a lost reply costs nothing); None if empty.

    Returns the task's row. One write transaction: SELECT the first available task of each queue in
    turn (PostgreSQL: FOR UPDATE SKIP LOCKED), UPDATE it by id, add the audit event.
    """
    project_id = lookup.project_id(session, project_name)
    with writing(session):
        now = utcnow()
        params = {"project_id": project_id, "user_id": user.id, "now": now,
                  "expires": now + dt.timedelta(seconds=lease_seconds)}
        held = session.execute(_HELD, params).first()
        if held is not None:
            return held
        for queue in _QUEUES:
            task_id = session.execute(queue, params).scalar()
            if task_id is not None:
                break
        else:
            return None
        row = session.execute(_TAKE, {**params, "task_id": task_id}).first()
        session.execute(_AUDIT, {"at": now, "actor_id": user.id, "action": "lease.claim", "project_id": project_id,
                                 "task_id": task_id, "detail": {"expires_at": params["expires"].isoformat()}})
    return row


def live_lease_problem(task: Task, user: User, now: dt.datetime) -> str | None:
    """Why `user` may not write to `task` now, or None when they hold a live lease on it."""
    if task.status in ("submitted", "accepted"):
        return f"task {task.id} is {task.status}; it takes no more edits"
    if task.status != "in_progress" or task.lease_owner_id is None:
        return f"task {task.id} is not leased; claim it first"
    if task.lease_owner_id != user.id:
        return f"task {task.id} is leased by another user"
    if task.lease_expires_at is None or task.lease_expires_at < now:
        return f"your lease on task {task.id} expired at {task.lease_expires_at}Z; claim it again"
    return None


@transaction
def renew(session: Session, task_id: int, user: User, lease_seconds: float) -> Task:
    now = utcnow()
    expires = now + dt.timedelta(seconds=lease_seconds)
    done = session.execute(
        update(Task).where(
            Task.id == task_id, Task.status == "in_progress", Task.lease_owner_id == user.id,
            Task.lease_expires_at >= now,
        ).values(lease_expires_at=expires, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    task = lookup.task(session, task_id)
    if not done:
        session.rollback()
        raise Conflict(live_lease_problem(task, user, now) or f"task {task_id}: lease not renewed",
                       current_revision=task.revision, status=task.status)
    session.refresh(task)
    audit.record(session, user, "lease.renew", task=task, expires_at=expires.isoformat())
    session.commit()
    return task


@transaction
def release(session: Session, task_id: int, user: User) -> Task:
    now = utcnow()
    done = session.execute(
        update(Task).where(
            Task.id == task_id, Task.status == "in_progress", Task.lease_owner_id == user.id,
            Task.lease_expires_at >= now,
        ).values(status="queued", lease_owner_id=None, lease_claimed_at=None, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    task = lookup.task(session, task_id)
    if not done:
        session.rollback()
        raise Conflict(live_lease_problem(task, user, now) or f"task {task_id}: lease not released",
                       current_revision=task.revision, status=task.status)
    session.refresh(task)
    audit.record(session, user, "lease.release", task=task)
    session.commit()
    return task
