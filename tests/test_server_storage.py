"""Revision storage: deltas with bounded snapshot chains, a cache that stays correct across server
processes, and the Alembic migration that rewrites existing full revisions."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from annotation_ui import db
from annotation_ui import labels as L
from annotation_ui.client import Client, unpack
from annotation_ui.models import Revision, Task
from annotation_ui.services import content
from tests.server_support import DB_KINDS, add_user, db_url, make_app, seed_tasks

FACES = 4000


def _client(app, token: str) -> Client:  # noqa: ANN001
    return Client("", None, http=TestClient(app, base_url="http://testserver/api/v1",
                                            headers={"Authorization": f"Bearer {token}"}))


def _task_created(app, task_id: int) -> dt.datetime:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return s.execute(sa.select(Task.created_at).where(Task.id == task_id)).scalar_one()


def _stored(app, task_id: int) -> list[tuple[int, bool, int]]:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return [tuple(r) for r in s.execute(sa.select(Revision.number, Revision.labels_delta, Revision.snapshot_number)
                                            .where(Revision.task_id == task_id).order_by(Revision.number))]


@pytest.mark.parametrize("kind", DB_KINDS)
def test_edits_store_deltas_and_every_revision_reads_back(kind: str, tmp_path) -> None:  # noqa: ANN001
    url = db_url(kind, tmp_path)
    app = make_app(url, tmp_path)
    admin = _client(app, add_user(app, "root", "admin"))
    ann_token = add_user(app, "ann", "annotator")
    ann = _client(app, ann_token)
    seed_tasks(admin, "p", 1, num_faces=FACES)
    task = ann.claim("p")["task"]
    tid, rev, rng = task["id"], task["revision"], np.random.default_rng(1)
    expected = {1: unpack(task["labels"])}
    created = _task_created(app, tid)
    for step in range(40):  # merges, splits, renames and full saves, checked against local numpy edits
        cur = expected[rev]
        if step == 20:  # a full save touching most faces is stored as a snapshot
            new = rng.integers(0, 50, FACES).astype(np.int32)
            t = ann.draft(tid, rev, new)
        elif step % 4 == 0:
            segs = rng.choice(np.unique(cur), 2, replace=False).tolist()
            new, _ = L.merge(cur, {}, segs)
            t = ann.op(tid, rev, "merge", segments=segs)
        elif step % 4 == 1:
            faces = rng.integers(0, FACES, 30).tolist()
            new, _, _ = L.split(cur, {}, faces)
            t = ann.op(tid, rev, "split", faces=faces)
        elif step % 4 == 2:
            new = cur
            t = ann.op(tid, rev, "rename", segment=int(cur[0]), name=f"n{step}")
        else:
            new = np.roll(cur, 1)
            t = ann.draft(tid, rev, new)
        rev = t["revision"]
        expected[rev] = new
        assert np.array_equal(unpack(t["labels"]), new), step
    stored = _stored(app, tid)
    assert _task_created(app, tid) == created, "writes touch only the task's revision, lease and updated_at"
    assert stored[0] == (1, False, 1)
    assert all(n - snap < content.MAX_CHAIN for n, _, snap in stored), "chains stay bounded"
    assert sum(not delta for _, delta, _ in stored) >= 3, "periodic snapshots"
    assert sum(delta for _, delta, _ in stored) >= 30, "small edits are deltas"
    assert stored[21] == (22, False, 22), "the large full save is a snapshot"

    # a second server process on the same database (its own, empty cache) reads every revision alike
    other = make_app(url, tmp_path)
    ann2 = _client(other, ann_token)
    for number, labels in expected.items():
        got = ann2.call("GET", f"/tasks/{tid}/revisions/{number}").json()
        assert np.array_equal(unpack(got["labels"]), labels), number
    # ... and writes: the first process, whose cache holds an older revision, serves the new one
    t = ann2.op(tid, rev, "split", faces=[0, 1, 2], name="lid")
    fresh = ann.task(tid)
    assert fresh["revision"] == rev + 1 and fresh["part_names"]["%d" % unpack(fresh["labels"])[0]] == "lid"
    assert np.array_equal(unpack(fresh["labels"]), unpack(t["labels"]))
    t = ann.op(tid, rev + 1, "rename", segment=int(unpack(fresh["labels"])[0]), name="cap")
    assert ann2.task(tid)["part_names"] == t["part_names"]


def _full_rows(conn, task_id: int, history: list[np.ndarray], author: int) -> None:  # noqa: ANN001
    revisions = sa.Table("revisions", sa.MetaData(), autoload_with=conn)
    now = dt.datetime(2026, 1, 1)
    for number, labels in enumerate(history, start=1):
        conn.execute(revisions.insert().values(
            task_id=task_id, number=number, kind="initial" if number == 1 else "draft",
            face_labels_zstd=L.encode(labels), part_names={}, verdict="ok", author_id=author, created_at=now))


@pytest.mark.parametrize("kind", DB_KINDS)
def test_migration_rewrites_full_revisions_as_snapshots_and_deltas(kind: str, tmp_path) -> None:  # noqa: ANN001
    url = db_url(kind, tmp_path)
    engine = db.make_engine(url, pool_size=2)
    db.upgrade(engine, "0002")  # the schema before deltas: every revision a full array
    rng = np.random.default_rng(3)
    history = [rng.integers(0, 9, 500).astype(np.int32)]
    for i in range(39):
        nxt = history[-1].copy()
        nxt[rng.integers(0, 500, 300 if i == 25 else 5)] = i + 10  # one large change among small ones
        history.append(nxt)
    with engine.begin() as conn:
        meta = sa.MetaData()
        users, projects, tasks = (sa.Table(n, meta, autoload_with=conn) for n in ("users", "projects", "tasks"))
        now = dt.datetime(2026, 1, 1)
        author = conn.execute(users.insert().values(name="root", role="admin", created_at=now)
                              .returning(users.c.id)).scalar()
        pid = conn.execute(projects.insert().values(name="p", description="", created_at=now)
                           .returning(projects.c.id)).scalar()
        tid = conn.execute(tasks.insert().values(
            project_id=pid, uid="o", mesh_sha256="0" * 64, num_faces=500, priority=0, status="in_progress",
            revision=len(history), created_at=now, updated_at=now).returning(tasks.c.id)).scalar()
        _full_rows(conn, tid, history, author)
    db.upgrade(engine)
    with db.make_sessionmaker(engine)() as s:
        stored = [tuple(r) for r in s.execute(sa.select(Revision.number, Revision.labels_delta,
                                                        Revision.snapshot_number).order_by(Revision.number))]
        assert stored[0] == (1, False, 1) and all(n - snap < content.MAX_CHAIN for n, _, snap in stored)
        assert sum(d for _, d, _ in stored) >= 30 and sum(not d for _, d, _ in stored) >= 3
        for number, labels in enumerate(history, start=1):
            assert np.array_equal(content.load(s, tid, number, 500).labels, labels), number
    db.downgrade(engine, "0002")  # and back: full arrays again
    with engine.connect() as conn:
        blobs = conn.execute(sa.text("SELECT number, face_labels_zstd FROM revisions ORDER BY number")).all()
    assert all(np.array_equal(L.decode(b, 500), history[n - 1]) for n, b in blobs)
    engine.dispose()


def test_label_delta_refuses_out_of_range_faces() -> None:
    base = np.zeros(10, np.int32)
    bad = L.encode(np.array([3, 12, 1, 1], np.int32))  # faces 3 and 12 of a 10-face mesh
    with pytest.raises(L.LabelError, match="face index outside"):
        L.apply_delta(base, bad)
    assert L.apply_delta(base, L.encode_delta(base, np.arange(10, dtype=np.int32))[0]).tolist() == list(range(10))
