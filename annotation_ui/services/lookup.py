"""Find rows by name or id, answering 404 with the name that was not found.

Names of users and projects never change and neither is ever deleted, so `user_names`,
`project_name` and `project_id` remember what they found in `session.info["names"]` (one dict per
app, handed to its sessions by `create_app`); a name not found is looked up again next time.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotation_ui.errors import NotFound
from annotation_ui.models import Project, Revision, Task, User

_PROJECT_ID = select(Project.__table__.c.id).where(Project.__table__.c.name == bindparam("name"))
_PROJECT_NAME = select(Project.__table__.c.name).where(Project.__table__.c.id == bindparam("id"))


def _memo(session: Session) -> dict:
    return session.info.setdefault("names", {})


def project(session: Session, name: str) -> Project:
    found = session.scalars(select(Project).where(Project.name == name)).first()
    if found is None:
        raise NotFound(f"project {name!r} does not exist")
    return found


def project_id(session: Session, name: str) -> int:
    memo = _memo(session)
    key = ("project_id", name)
    if key not in memo:
        found = session.execute(_PROJECT_ID, {"name": name}).scalar()
        if found is None:
            raise NotFound(f"project {name!r} does not exist")
        memo[key] = found
    return memo[key]


def project_name(session: Session, project_id: int) -> str:
    memo = _memo(session)
    key = ("project_name", project_id)
    if key not in memo:
        memo[key] = session.execute(_PROJECT_NAME, {"id": project_id}).scalar_one()
    return memo[key]


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
    memo = _memo(session).setdefault("user_names", {})
    wanted = {i for i in ids if i is not None}
    missing = wanted - memo.keys()
    if missing:
        memo.update(session.execute(select(User.id, User.name).where(User.id.in_(missing))).tuples().all())
    return {i: memo[i] for i in wanted if i in memo}
