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


def _available(t, project_id: int, user_id: int, now: dt.datetime):  # noqa: ANN001, ANN202
    return and_(
        t.project_id == project_id,
        or_(t.status == "queued", and_(t.status == "in_progress", t.lease_expires_at < now)),
        or_(t.assignee_id.is_(None), t.assignee_id == user_id),
    )


def _mine_first(t, user_id: int):  # noqa: ANN001, ANN202
    """Order key: your own expired lease (resume your work), then tasks sent back to you, then the rest."""
    return case((t.lease_owner_id == user_id, 0), (t.assignee_id == user_id, 1), else_=2)


def _held(session: Session, project_id: int, user: User, now: dt.datetime) -> Task | None:
    return session.scalars(
        select(Task).where(
            Task.project_id == project_id,
            Task.status == "in_progress",
            Task.lease_owner_id == user.id,
            Task.lease_expires_at >= now,
        ).order_by(Task.id).limit(1)
    ).first()


@transaction
def claim_next(session: Session, project_name: str, user: User, lease_seconds: float) -> Task | None:
    """Lease the next task to `user` (their own live lease first, so a lost reply costs nothing); None if empty."""
    project = lookup.project(session, project_name)
    now = utcnow()
    held = _held(session, project.id, user, now)
    if held is not None:
        session.commit()
        return held
    available = _available(Task, project.id, user.id, now)
    t = aliased(Task)  # the subquery must not correlate with the UPDATE's own table
    pick = (
        select(t.id).where(_available(t, project.id, user.id, now))
        .order_by(_mine_first(t, user.id), t.priority.desc(), t.id).limit(1)
        .with_for_update(skip_locked=True).scalar_subquery()
    )
    expires = now + dt.timedelta(seconds=lease_seconds)
    for _ in range(5):  # PostgreSQL: the picked row may have been taken between the SELECT and the UPDATE
        task_id = session.execute(
            update(Task).where(Task.id == pick, available).values(
                status="in_progress", lease_owner_id=user.id, lease_claimed_at=now, lease_expires_at=expires,
                updated_at=now,
            ).returning(Task.id).execution_options(synchronize_session=False)
        ).scalar()
        if task_id is not None:
            task = session.get(Task, task_id, populate_existing=True)
            audit.record(session, user, "lease.claim", task=task, expires_at=expires.isoformat())
            session.commit()
            return task
        if session.scalar(select(Task.id).where(available).limit(1)) is None:
            break
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
