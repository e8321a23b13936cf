"""Projects and their tasks: creation from pushed builds, listing, and accepted annotations."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotation_ui.db import transaction

from annotation_ui import labels as L
from annotation_ui.errors import Conflict, Invalid
from annotation_ui.models import Project, Revision, Task, User, utcnow
from annotation_ui.schemas import TaskCreate
from annotation_ui.services import audit, lookup
from annotation_ui.store import BlobStore


@transaction
def create_project(session: Session, user: User, name: str, description: str) -> Project:
    project = Project(name=name, description=description, created_at=utcnow())
    session.add(project)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"project {name!r} already exists") from None
    audit.record(session, user, "project.create", project_id=project.id, name=name)
    session.commit()
    return project


def _checked(spec: TaskCreate, store: BlobStore) -> tuple[bytes, dict[str, str]]:
    where = f"task {spec.uid!r}"
    if not store.exists(spec.mesh_sha256):
        raise Invalid(f"{where}: mesh {spec.mesh_sha256} is not in the store; upload it to /api/v1/blobs first")
    try:
        labels = L.validate(L.decode_b64(spec.labels.data, spec.labels.count), spec.labels.count)
        names = L.validate_names(spec.part_names, labels)
    except L.LabelError as exc:
        raise Invalid(f"{where}: {exc}") from None
    return L.encode(labels), names


@transaction
def add_tasks(session: Session, user: User, project_name: str, specs: list[TaskCreate], store: BlobStore):
    """Create one task per spec with its initial labels as revision 1; uids already present are skipped."""
    project = lookup.project(session, project_name)
    uids = [s.uid for s in specs]
    if len(set(uids)) != len(uids):
        raise Invalid("tasks: uids repeat within the request")
    present = set(session.scalars(select(Task.uid).where(Task.project_id == project.id, Task.uid.in_(uids))))
    checked = {s.uid: _checked(s, store) for s in specs if s.uid not in present}  # all valid or nothing stored
    created: list[int] = []
    now = utcnow()
    for spec in specs:
        if spec.uid in present:
            continue
        blob, names = checked[spec.uid]
        task = Task(project_id=project.id, uid=spec.uid, mesh_sha256=spec.mesh_sha256, num_faces=spec.labels.count,
                    priority=spec.priority, status="queued", revision=1, created_at=now, updated_at=now)
        session.add(task)
        session.flush()
        session.add(Revision(task_id=task.id, number=1, kind="initial", face_labels_zstd=blob, labels_delta=False,
                             snapshot_number=1, part_names=names,
                             verdict="ok", author_id=user.id, created_at=now))
        audit.record(session, user, "task.create", task=task, uid=spec.uid, num_faces=spec.labels.count)
        created.append(task.id)
    session.commit()
    return created, sorted(present)


def list_tasks(session: Session, project_name: str, status: str | None, assignee: str | None, uid: str | None,
               limit: int, offset: int) -> tuple[list[Task], int]:
    project = lookup.project(session, project_name)
    query = select(Task).where(Task.project_id == project.id)
    if status:
        query = query.where(Task.status == status)
    if assignee:
        query = query.where(Task.assignee_id == lookup.user(session, assignee).id)
    if uid:
        query = query.where(Task.uid == uid)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Task.id).limit(limit).offset(offset)).all()
    return list(rows), int(total or 0)


def accepted(session: Session, project_name: str, after_id: int, limit: int) -> list[tuple[Task, Revision]]:
    """Accepted tasks with id > after_id, each with its accepted revision, in id order."""
    project = lookup.project(session, project_name)
    rows = session.execute(
        select(Task, Revision)
        .join(Revision, (Revision.task_id == Task.id) & (Revision.number == Task.accepted_revision))
        .where(Task.project_id == project.id, Task.status == "accepted", Task.id > after_id)
        .order_by(Task.id).limit(limit)
    ).tuples().all()
    return list(rows)
