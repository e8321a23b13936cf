"""Find rows by name or id, answering 404 with the name that was not found."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.errors import NotFound
from annotation_ui.models import Project, Revision, Task, User


def project(session: Session, name: str) -> Project:
    found = session.scalars(select(Project).where(Project.name == name)).first()
    if found is None:
        raise NotFound(f"project {name!r} does not exist")
    return found


def task(session: Session, task_id: int) -> Task:
    found = session.get(Task, task_id)
    if found is None:
        raise NotFound(f"task {task_id} does not exist")
    return found


def user(session: Session, name: str) -> User:
    found = session.scalars(select(User).where(User.name == name)).first()
    if found is None:
        raise NotFound(f"user {name!r} does not exist")
    return found


def revision(session: Session, task_id: int, number: int) -> Revision:
    found = session.scalars(select(Revision).where(Revision.task_id == task_id, Revision.number == number)).first()
    if found is None:
        raise NotFound(f"task {task_id} has no revision {number}")
    return found


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).tuples().all())
