"""Review of submitted tasks (reviewer or admin)."""
from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from annotation_ui.deps import AnyUser, BaseRevision, Reviewer, SessionDep, TaskId
from annotation_ui.models import Review
from annotation_ui.schemas import Conflict, Message, ReviewIn, ReviewPublic
from annotation_ui.services import lookup
from annotation_ui.services import review as review_service

router = APIRouter(tags=["reviews"])


def _public(session, row: Review) -> ReviewPublic:  # noqa: ANN001
    names = lookup.user_names(session, {row.reviewer_id, row.reassigned_to_id})
    return ReviewPublic(id=row.id, task_id=row.task_id, revision=row.revision, decision=row.decision,
                        comment=row.comment, reviewer=names[row.reviewer_id],
                        reassigned_to=names.get(row.reassigned_to_id), created_at=row.created_at)


@router.post("/tasks/{task_id}/review", response_model=ReviewPublic, status_code=201,
             responses={403: {"model": Message, "description": "you authored the revision under review"},
                        404: {"model": Message}, 409: {"model": Conflict}, 412: {"model": Conflict},
                        422: {"model": Message}, 428: {"model": Message}})
def review_task(reviewer: Reviewer, task_id: TaskId, base: BaseRevision, body: ReviewIn, session: SessionDep):
    """Accept the submitted revision (If-Match), or reject it back to its author or `reassign_to`."""
    row = review_service.review(session, task_id, reviewer, base, body.decision, body.comment, body.reassign_to)
    return _public(session, row)


@router.get("/tasks/{task_id}/reviews", response_model=list[ReviewPublic], responses={404: {"model": Message}})
def list_reviews(_: AnyUser, task_id: TaskId, session: SessionDep) -> list[ReviewPublic]:
    lookup.task(session, task_id)
    rows = session.scalars(select(Review).where(Review.task_id == task_id).order_by(Review.id)).all()
    return [_public(session, r) for r in rows]
