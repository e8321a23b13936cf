"""The audit log (admin)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from annotation_ui.deps import Admin, SessionDep
from annotation_ui.models import AuditEvent
from annotation_ui.schemas import AuditPublic
from annotation_ui.services import lookup

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditPublic])
def list_audit(
    _: Admin, session: SessionDep, task_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    project: str | None = None, after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """State changes, oldest first, from `after_id` on."""
    query = select(AuditEvent).where(AuditEvent.id > after_id)
    if task_id is not None:
        query = query.where(AuditEvent.task_id == task_id)
    if project is not None:
        query = query.where(AuditEvent.project_id == lookup.project(session, project).id)
    rows = session.scalars(query.order_by(AuditEvent.id).limit(limit)).all()
    names = lookup.user_names(session, {r.actor_id for r in rows})
    return [AuditPublic(id=r.id, at=r.at, actor=names.get(r.actor_id), action=r.action, project_id=r.project_id,
                        task_id=r.task_id, detail=r.detail) for r in rows]
