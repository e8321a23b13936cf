"""Label transport and edit operations (vectorized numpy), and migrations matching the models."""
from __future__ import annotations

import numpy as np
import pytest

from annotation_ui import labels as L


def test_transport_roundtrip_and_size_checks() -> None:
    labels = np.random.default_rng(0).integers(0, 50, 200_000).astype(np.int32)
    blob = L.encode(labels)
    assert len(blob) < labels.nbytes
    assert np.array_equal(L.decode(blob, labels.size), labels)
    assert np.array_equal(L.decode_b64(L.encode_b64(labels), labels.size), labels)
    with pytest.raises(L.LabelError, match="more than 4 bytes, expected 4"):
        L.decode(blob, 1)
    with pytest.raises(L.LabelError, match="to 800000 bytes, expected 800004"):
        L.decode(blob, labels.size + 1)
    with pytest.raises(L.LabelError, match="not valid zstd"):
        L.decode(b"junk", 1)


def test_merge_split_rename() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 3], np.int32)
    merged, names = L.merge(labels, {"2": "wheel", "3": "door"}, [3, 2])
    assert merged.tolist() == [0, 0, 1, 1, 2, 2, 2] and names == {"2": "wheel"}
    split, names, new = L.split(merged, names, [0, 6], "lamp")
    assert new == 3 and split.tolist() == [3, 0, 1, 1, 2, 2, 3] and names == {"2": "wheel", "3": "lamp"}
    assert L.rename(split, names, 0, " body ") == {"2": "wheel", "3": "lamp", "0": "body"}
    with pytest.raises(L.LabelError, match=r"segments \[9\] do not occur"):
        L.merge(labels, {}, [0, 9])
    with pytest.raises(L.LabelError, match="face 7 does not exist"):
        L.split(labels, {}, [7])
    with pytest.raises(L.LabelError, match="face -1 does not exist"):
        L.split(labels, {}, [-1, 2])
    with pytest.raises(L.LabelError, match="segment 8 does not occur"):
        L.rename(labels, {}, 8, "x")
    with pytest.raises(L.LabelError, match="negative label"):
        L.validate(np.array([0, -2], np.int32), 2)


def test_alembic_migrations_match_the_models(tmp_path) -> None:  # noqa: ANN001
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from annotation_ui import db
    from annotation_ui.models import Base

    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        # alembic compares indexes with an expression (priority DESC) only approximately: check it exists instead
        assert [d for d in diff if d[1].name != "ix_tasks_queue_order"] == []
        indexes = {row[1] for row in conn.exec_driver_sql("PRAGMA index_list('tasks')")}
        assert {"ix_tasks_queue_order", "ix_tasks_lease_owner", "ix_tasks_assignee"} <= indexes
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE project_id = 1 AND status = 'queued' "
            "AND assignee_id IS NULL ORDER BY priority DESC, id LIMIT 1"))
        assert "ix_tasks_queue_order" in plan and "TEMP B-TREE" not in plan, plan
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.upgrade(engine)  # idempotent


def test_edits_keep_names_exactly_of_present_segments() -> None:
    """merge / split / rename on random labels agree with a plain bincount reference, few or many segments."""
    rng = np.random.default_rng(7)
    for n_segments in (12, 40):
        labels = rng.integers(0, n_segments, 3000).astype(np.int32)
        names = {str(s): f"p{s}" for s in range(0, n_segments, 2)}
        for step in range(40):
            present = np.flatnonzero(np.bincount(labels))
            if step % 3 == 0 and present.size >= 2:
                segs = rng.choice(present, min(present.size, 2 + step % 12), replace=False).tolist()
                labels, names = L.merge(labels, names, segs)
                assert not set(segs[1:]) - {min(segs)} & set(np.unique(labels).tolist())
            elif step % 3 == 1:
                faces = np.flatnonzero(labels == rng.choice(present)).tolist()  # takes a whole segment
                labels, names, new = L.split(labels, names, faces[: rng.integers(1, len(faces) + 1)], "cut")
                assert names[str(new)] == "cut"
            else:
                names = L.rename(labels, names, int(rng.choice(present)), f"r{step}")
            assert {int(k) for k in names} <= set(np.unique(labels).tolist()), step
    with pytest.raises(L.LabelError, match="do not occur"):
        L.merge(labels, {}, [int(labels.max()) + 5, int(labels[0])])
    with pytest.raises(L.LabelError, match="does not occur"):
        L.rename(labels, names, int(labels.max()) + 1, "ghost")
