"""The append-only audit log: one row per state change, in the same transaction as the change."""
from __future__ import annotations

from sqlalchemy.orm import Session

from annotation_ui.models import AuditEvent, Task, User, utcnow


def record(
    session: Session, actor: User | None, action: str, *, task: Task | None = None, project_id: int | None = None,
    **detail: object,
) -> None:
    session.add(
        AuditEvent(
            at=utcnow(),
            actor_id=actor.id if actor else None,
            action=action,
            task_id=task.id if task else None,
            project_id=task.project_id if task else project_id,
            detail=detail,
        )
    )
