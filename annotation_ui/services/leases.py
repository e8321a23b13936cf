"""Claiming the next task, renewing and releasing leases, all as single guarded UPDATEs.

Claim is one statement: `UPDATE tasks ... WHERE id = (SELECT id ... LIMIT 1 [FOR UPDATE SKIP
LOCKED]) AND <still available>`. SQLite serialises it under BEGIN IMMEDIATE; PostgreSQL's SKIP
LOCKED lets concurrent claimers pass over a row another transaction is taking. An expired lease
makes its task claimable again.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session, aliased

from annotation_ui.db import transaction

from annotation_ui.errors import Conflict
from annotation_ui.models import Task, User, utcnow
from annotation_ui.services import audit, lookup


def _queues(t, project_id: int, user_id: int, now: dt.datetime) -> list:  # noqa: ANN001
    """Where the next task comes from, in order, each an index-friendly condition and ordering.

    1. your own expired lease (resume your work) and tasks a reviewer sent back to you;
    2. other expired leases (work someone abandoned);
    3. the queue, by priority then age (index ix_tasks_queue_order).
    """
    expired = and_(t.status == "in_progress", t.lease_expires_at < now)
    return [
        (and_(t.project_id == project_id, or_(t.lease_owner_id == user_id, t.assignee_id == user_id),
              or_(t.status == "queued", expired), or_(t.assignee_id.is_(None), t.assignee_id == user_id)),
         (case((t.lease_owner_id == user_id, 0), else_=1), t.priority.desc(), t.id)),
        (and_(t.project_id == project_id, expired, t.assignee_id.is_(None)), (t.priority.desc(), t.id)),
        (and_(t.project_id == project_id, t.status == "queued", t.assignee_id.is_(None)), (t.priority.desc(), t.id)),
    ]


def _held(session: Session, project_id: int, user: User, now: dt.datetime) -> Task | None:
    return session.scalars(
        select(Task).where(
            Task.project_id == project_id,
            Task.status == "in_progress",
            Task.lease_owner_id == user.id,
            Task.lease_expires_at >= now,
        ).order_by(Task.id).limit(1)
    ).first()


def _take(session: Session, where, order, user: User, now: dt.datetime, expires: dt.datetime) -> int | None:  # noqa: ANN001
    """One atomic UPDATE ... WHERE id = (first matching row, SKIP LOCKED) AND <still matching>."""
    t = aliased(Task)  # the subquery must not correlate with the UPDATE's own table
    pick = select(t.id).where(where(t)).order_by(*order(t)).limit(1).with_for_update(skip_locked=True)
    for _ in range(5):  # PostgreSQL: the picked row may have been taken between the SELECT and the UPDATE
        task_id = session.execute(
            update(Task).where(Task.id == pick.scalar_subquery(), where(Task)).values(
                status="in_progress", lease_owner_id=user.id, lease_claimed_at=now, lease_expires_at=expires,
                updated_at=now,
            ).returning(Task.id).execution_options(synchronize_session=False)
        ).scalar()
        if task_id is not None or session.scalar(select(Task.id).where(where(Task)).limit(1)) is None:
            return task_id
    return None


@transaction
def claim_next(session: Session, project_name: str, user: User, lease_seconds: float) -> Task | None:
    """Lease the next task to `user` (their own live lease first, so a lost reply costs nothing); None if empty."""
    project = lookup.project(session, project_name)
    now = utcnow()
    held = _held(session, project.id, user, now)
    if held is not None:
        session.commit()
        return held
    expires = now + dt.timedelta(seconds=lease_seconds)
    for i in range(3):
        task_id = _take(session, lambda t, i=i: _queues(t, project.id, user.id, now)[i][0],
                        lambda t, i=i: _queues(t, project.id, user.id, now)[i][1], user, now, expires)
        if task_id is not None:
            task = session.get(Task, task_id, populate_existing=True)
            audit.record(session, user, "lease.claim", task=task, expires_at=expires.isoformat())
            session.commit()
            return task
    session.commit()
    return None


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
