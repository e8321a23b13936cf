"""label deltas: revisions store changed faces relative to the previous revision, with periodic snapshots

Adds revisions.labels_delta and revisions.snapshot_number, and rewrites the labels of existing
revisions (all full arrays until now) into the same form new revisions take: a snapshot at
revision 1 and then at least every MAX_CHAIN revisions or when a change touches more than a
quarter of the faces, deltas in between. Every revision decodes to exactly the labels it had.

Revision ID: 0003
Revises: 0002
"""
import numpy as np
import sqlalchemy as sa
import zstandard
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MAX_CHAIN = 16  # the same policy as annotation_ui.services.content (frozen here: migrations never change)

_revs = sa.table("revisions", sa.column("id", sa.Integer), sa.column("task_id", sa.Integer),
                 sa.column("number", sa.Integer), sa.column("face_labels_zstd", sa.LargeBinary),
                 sa.column("labels_delta", sa.Boolean), sa.column("snapshot_number", sa.Integer))
_tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("num_faces", sa.BigInteger))


def _decode(blob: bytes, count: int) -> np.ndarray:
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    if len(raw) != 4 * count:
        raise RuntimeError(f"revision labels decompress to {len(raw)} bytes, expected {4 * count}")
    return np.frombuffer(raw, dtype="<i4")


def _compress(values: np.ndarray) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(np.ascontiguousarray(values, dtype="<i4").tobytes())


def _rewrite_task(conn, task_id: int, num_faces: int) -> None:  # noqa: ANN001
    rows = conn.execute(sa.select(_revs.c.id, _revs.c.number, _revs.c.face_labels_zstd)
                        .where(_revs.c.task_id == task_id).order_by(_revs.c.number)).all()
    prev, snapshot = None, None
    for row_id, number, blob in rows:
        labels = _decode(blob, num_faces)
        changed = np.flatnonzero(prev != labels) if prev is not None else None
        if changed is not None and number - snapshot < MAX_CHAIN and changed.size <= num_faces // 4:
            delta = np.concatenate([changed.astype(np.int32), labels[changed]])
            values = {"face_labels_zstd": _compress(delta), "labels_delta": True, "snapshot_number": snapshot}
        else:
            snapshot = number
            values = {"labels_delta": False, "snapshot_number": number}
        conn.execute(sa.update(_revs).where(_revs.c.id == row_id).values(**values))
        prev = labels


def upgrade() -> None:
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels_delta", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("snapshot_number", sa.Integer(), nullable=True))
    conn = op.get_bind()
    for task_id, num_faces in conn.execute(sa.select(_tasks.c.id, _tasks.c.num_faces).order_by(_tasks.c.id)).all():
        _rewrite_task(conn, task_id, int(num_faces))
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.alter_column("snapshot_number", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_revs.c.task_id, _tasks.c.num_faces).select_from(
        _revs.join(_tasks, _tasks.c.id == _revs.c.task_id)).where(_revs.c.labels_delta.is_(True)).distinct()).all()
    for task_id, num_faces in rows:  # back to full arrays
        labels = None
        for row_id, is_delta, blob in conn.execute(
                sa.select(_revs.c.id, _revs.c.labels_delta, _revs.c.face_labels_zstd)
                .where(_revs.c.task_id == task_id).order_by(_revs.c.number)).all():
            if not is_delta:
                labels = _decode(blob, int(num_faces)).copy()
                continue
            data = np.frombuffer(zstandard.ZstdDecompressor().decompressobj().decompress(blob), dtype="<i4")
            labels[data[: data.size // 2]] = data[data.size // 2 :]
            conn.execute(sa.update(_revs).where(_revs.c.id == row_id).values(face_labels_zstd=_compress(labels)))
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_column("snapshot_number")
        batch_op.drop_column("labels_delta")
