"""Writing revisions: drafts, submits and server-side edit operations, never losing an update.

Every write names the revision it is based on (If-Match). It is refused with 409 when the writer
holds no live lease (expired, released, submitted, someone else's) and with 412 when the base is
not the latest revision. The edit is computed from revision `base` (usually cached, and then the
task is not even read first) before the write transaction; the transaction is then three
statements: the guard `UPDATE tasks SET revision = base + 1 WHERE id = ? AND revision = base AND
<lease still live> RETURNING ...`, whose row count decides the race (on PostgreSQL it row-locks
the task like SELECT ... FOR UPDATE, and a concurrent writer re-checks the WHERE after the lock and
finds no row), the new revision row (unique per task and number) and its audit event. SQLite runs
them in a group-committed transaction (see db.writing); PostgreSQL as one statement with
data-modifying CTEs in autocommit (one round trip, atomic and durable when it returns).
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, cast, insert, null, select, update
from sqlalchemy.orm import Session

from annotation_ui import labels as L
from annotation_ui import db
from annotation_ui.db import writing
from annotation_ui.errors import Conflict, Invalid, NotFound, PreconditionFailed
from annotation_ui.models import AuditEvent, Revision, Task, User, utcnow
from annotation_ui.services import content as C
from annotation_ui.services.content import Content
from annotation_ui.services.leases import live_lease_problem

Edit = Callable[[Content], Content]
_T = Task.__table__.c
TASK_ROW = select(Task.__table__).where(_T.id == bindparam("task_id"))
_GUARD = (_T.id == bindparam("task_id"), _T.revision == bindparam("base"), _T.status == "in_progress",
          _T.lease_owner_id == bindparam("user_id"), _T.lease_expires_at >= bindparam("now"))
_EDIT = update(Task.__table__).where(*_GUARD).values(revision=bindparam("new"), updated_at=bindparam("now")) \
    .returning(*Task.__table__.c)
_SUBMIT = update(Task.__table__).where(*_GUARD).values(
    revision=bindparam("new"), updated_at=bindparam("now"), status="submitted", lease_owner_id=null(),
    lease_claimed_at=null(), lease_expires_at=null(), assignee_id=null()).returning(*Task.__table__.c)
_ADD_REVISION = insert(Revision.__table__)
_ADD_AUDIT = insert(AuditEvent.__table__)
# bind names of the revision row; none may be a column of `tasks` (an UPDATE would SET it)
_REVISION_COLUMNS = ("number", "kind", "face_labels_zstd", "labels_delta", "snapshot_number", "part_names", "verdict",
                     "reason", "author_id", "work_seconds")


def _one_statement(guard):  # noqa: ANN001, ANN202
    """PostgreSQL: the guard UPDATE, the revision and the audit event as one statement (data-modifying
    CTEs), so a write is one round trip in autocommit; no row when the guard matched nothing."""
    task = guard.cte("guarded")
    rc, ac = Revision.__table__.c, AuditEvent.__table__.c

    def param(name: str, column):  # noqa: ANN001, ANN202
        return cast(bindparam(name, type_=column.type), column.type)  # typed: NULLs in a SELECT list too

    revision = insert(Revision.__table__).from_select(
        ["task_id", *_REVISION_COLUMNS, "created_at"],
        select(task.c.id, *[param(c, rc[c]) for c in _REVISION_COLUMNS], param("now", rc.created_at))).cte("rev")
    event = insert(AuditEvent.__table__).from_select(
        ["at", "actor_id", "action", "project_id", "task_id", "detail"],
        select(param("now", ac.at), param("user_id", ac.actor_id), param("action", ac.action), task.c.project_id,
               task.c.id, param("detail", ac.detail))).cte("event")
    return select(task).add_cte(revision).add_cte(event)


_EDIT_ONE, _SUBMIT_ONE = _one_statement(_EDIT), _one_statement(_SUBMIT)
_GUARD_PARAMS = ("task_id", "base", "user_id", "now", "new")


def task_row(session: Session, task_id: int):  # noqa: ANN201
    """The task's row (a read-only Row with Task's attribute names), or 404."""
    row = session.execute(TASK_ROW, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


def _refuse(task, user: User, base: int) -> None:  # noqa: ANN001
    problem = live_lease_problem(task, user, utcnow())
    if problem:
        raise Conflict(problem, current_revision=task.revision, status=task.status)
    if task.revision != base:
        raise PreconditionFailed(
            f"task {task.id}: your change is based on revision {base} but the latest is {task.revision}; "
            "reload and reapply", current_revision=task.revision, status=task.status,
        )


def write(session: Session, task_id: int, user: User, base: int, kind: str, edit: Edit, *,
          submit: bool = False):  # noqa: ANN201
    """Apply `edit` to revision `base` of `task_id`, store the result as revision base + 1.

    Returns (the task's new row, the new revision's Content). The stored result is never based on
    stale labels: the guarded UPDATE succeeds only if `base` is still the latest revision. An edit
    whose base revision is cached reads nothing first (the guard checks revision and lease; a
    refusal then reads the task to say why); a submit reads the task for its claim time.
    """
    current = None if submit else C.cached(session, task_id, base)
    task = None
    if current is None:
        task = task_row(session, task_id)
        _refuse(task, user, base)
        current = C.load(session, task_id, base, task.num_faces)
    try:
        new = edit(current)
    except L.LabelError as exc:
        if task is None:
            _refuse(task_row(session, task_id), user, base)  # a refused write says 409/412 before 422
        raise Invalid(f"task {task_id}: {exc}") from None
    number = base + 1
    blob, is_delta, snapshot = C.stored_form(current, new, number)
    now = utcnow()
    work = (now - task.lease_claimed_at).total_seconds() if submit and task.lease_claimed_at else None
    params = {"task_id": task_id, "base": base, "user_id": user.id, "now": now, "new": number,
              "number": number, "kind": kind, "face_labels_zstd": blob, "labels_delta": is_delta,
              "snapshot_number": snapshot, "part_names": new.part_names, "verdict": new.verdict, "reason": new.reason,
              "author_id": user.id, "work_seconds": work, "action": f"revision.{kind}",
              "detail": {"revision": number, "verdict": new.verdict}}
    if session.get_bind().dialect.name == "postgresql":
        session.rollback()  # end the read (its connection goes back to the pool); the guard decides anyway
        row = db.autocommit(session.get_bind(), _SUBMIT_ONE if submit else _EDIT_ONE, params)
    else:
        with writing(session):
            row = session.execute(_SUBMIT if submit else _EDIT, {k: params[k] for k in _GUARD_PARAMS}).first()
            if row is not None:
                session.execute(_ADD_REVISION, {"task_id": task_id, "created_at": now,
                                                **{c: params[c] for c in _REVISION_COLUMNS}})
                session.execute(_ADD_AUDIT, {"at": now, "actor_id": user.id, "action": params["action"],
                                             "project_id": row.project_id, "task_id": task_id,
                                             "detail": params["detail"]})
    if row is None:
        _refuse(task_row(session, task_id), user, base)
        raise Conflict(f"task {task_id}: the write lost a race; reload", current_revision=None)
    new.number, new.kind, new.author_id, new.created_at, new.snapshot_number = number, kind, user.id, now, snapshot
    cache = C.cache_of(session)
    if cache is not None:
        cache.put(task_id, new)  # committed: the content of (task, number) never changes again
    return row, new


def replace_edit(packed_labels, part_names: dict[str, str] | None, verdict: str | None = None,  # noqa: ANN001
                 reason: str | None = None) -> Edit:
    """An edit that replaces labels (a PackedLabels) and names; the verdict too when given."""
    if verdict == "rejected" and not (reason or "").strip():
        raise Invalid("reason: a rejected verdict needs a reason")

    def edit(cur: Content) -> Content:
        if verdict is not None:
            cur = cur.changed(verdict=verdict, reason=reason.strip() if verdict == "rejected" else None)
        if packed_labels is None:
            if part_names is None:
                return cur.changed()
            return cur.changed(part_names=L.validate_names(part_names, cur.labels))
        if packed_labels.count != cur.num_faces:
            raise L.LabelError(f"labels.count is {packed_labels.count}, the mesh has {cur.num_faces} faces")
        labels = L.validate(L.decode_b64(packed_labels.data, packed_labels.count), cur.num_faces)
        return cur.changed(labels=labels, part_names=L.validate_names(part_names or {}, labels),
                           packed=packed_labels.data)

    return edit


def merge_edit(segments: list[int]) -> Edit:
    def edit(cur: Content) -> Content:
        labels, names = L.merge(cur.labels, cur.part_names, segments)
        return cur.changed(labels=labels, part_names=names)

    return edit


def split_edit(faces: list[int], name: str | None) -> Edit:
    def edit(cur: Content) -> Content:
        labels, names, _ = L.split(cur.labels, cur.part_names, faces, name)
        return cur.changed(labels=labels, part_names=names)

    return edit


def rename_edit(segment: int, name: str) -> Edit:
    def edit(cur: Content) -> Content:
        return cur.changed(part_names=L.rename(cur.labels, cur.part_names, segment, name))

    return edit


def reject_edit(reason: str) -> Edit:
    def edit(cur: Content) -> Content:
        return cur.changed(verdict="rejected", reason=reason.strip())

    return edit
