"""Projects: create, list, add tasks (admin), list tasks, statistics, accepted annotations."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from annotation_ui.deps import Admin, AnyUser, Reviewer, SessionDep, StoreDep
from annotation_ui.models import Project
from annotation_ui.routers import views
from annotation_ui.schemas import (
    AnnotationOut, AnnotationPage, Message, PackedLabels, ProjectCreate, ProjectPublic, ProjectStats, TaskList, TasksCreate,
    TasksCreated,
)
from annotation_ui.services import content, lookup, projects, stats

router = APIRouter(tags=["projects"])
NOT_FOUND = {404: {"model": Message}}


@router.post("/projects", response_model=ProjectPublic, status_code=201, responses={409: {"model": Message}})
def create_project(admin: Admin, body: ProjectCreate, session: SessionDep) -> Project:
    return projects.create_project(session, admin, body.name, body.description)


@router.get("/projects", response_model=list[ProjectPublic])
def list_projects(_: AnyUser, session: SessionDep) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.id)))


@router.get("/projects/{name}", response_model=ProjectPublic, responses=NOT_FOUND)
def get_project(_: AnyUser, name: str, session: SessionDep) -> Project:
    return lookup.project(session, name)


@router.post("/projects/{name}/tasks", response_model=TasksCreated, status_code=201,
             responses={**NOT_FOUND, 422: {"model": Message}})
def add_tasks(admin: Admin, name: str, body: TasksCreate, session: SessionDep, store: StoreDep) -> TasksCreated:
    """Create tasks (one object each) with their initial labels; all or nothing. Known uids are skipped."""
    created, skipped = projects.add_tasks(session, admin, name, body.tasks, store)
    return TasksCreated(created=created, skipped=skipped)


@router.get("/projects/{name}/tasks", response_model=TaskList, responses=NOT_FOUND)
def list_tasks(
    _: AnyUser, name: str, session: SessionDep,
    status: Literal["queued", "in_progress", "submitted", "accepted"] | None = None,
    assignee: str | None = None, uid: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> TaskList:
    rows, total = projects.list_tasks(session, name, status, assignee, uid, limit, offset)
    return TaskList(items=[views.summary(session, t, name) for t in rows], total=total)


@router.get("/projects/{name}/stats", response_model=ProjectStats, responses=NOT_FOUND)
def project_stats(_: Reviewer, name: str, session: SessionDep) -> ProjectStats:
    """Done, in progress, rejected, per-annotator throughput and median time per task (claim → submit)."""
    return stats.project_stats(session, name)


@router.get("/projects/{name}/annotations", response_model=AnnotationPage, responses=NOT_FOUND)
def accepted_annotations(
    _: Reviewer, name: str, session: SessionDep,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AnnotationPage:
    """Accepted tasks (labels of the accepted revision), page by page: pass `next_after_id` back."""
    rows = projects.accepted(session, name, after_id, limit)
    authors = lookup.user_names(session, {rev.author_id for _, rev in rows})
    items = [
        AnnotationOut(
            uid=task.uid, task_id=task.id, status="rejected" if rev.verdict == "rejected" else "accepted",
            reason=rev.reason, author=authors[rev.author_id], revision=rev.number, updated_at=task.updated_at,
            labels=PackedLabels(count=task.num_faces,
                                data=content.load(session, task.id, rev.number, task.num_faces).packed()),
            part_names=rev.part_names,
        )
        for task, rev in rows
    ]
    return AnnotationPage(items=items, next_after_id=rows[-1][0].id if len(rows) == limit else None)
