"""SQLite group commit (db.writing): writers queued at once share one COMMIT, none returns before it,
and a writer that fails undoes only its own writes."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from annotation_ui import db

WRITERS = 6


def _engine(tmp_path):  # noqa: ANN001, ANN202
    engine = db.make_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}", pool_size=WRITERS + 2)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    return engine


def _committed(engine) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:  # a fresh connection sees committed rows only
        return {r[0] for r in conn.exec_driver_sql("SELECT v FROM t")}


def _run_batch(engine, bodies) -> dict[int, object]:  # noqa: ANN001
    """Writer 0 holds the write slot until every other writer queues behind it; returns each outcome."""
    group = db._group_commit(engine)
    sessions = db.make_sessionmaker(engine)
    outcome: dict[int, object] = {}

    def writer(i: int) -> None:
        with sessions() as session:
            try:
                with db.writing(session):
                    if i == 0:
                        deadline = time.monotonic() + 20
                        while group.queued < len(bodies) - 1 and time.monotonic() < deadline:
                            time.sleep(0.005)
                    bodies[i](session)
                outcome[i] = ("ok", _committed(engine))  # what a reader sees the moment writing() returned
            except Exception as exc:  # noqa: BLE001
                outcome[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(bodies))]
    threads[0].start()
    time.sleep(0.05)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(30)
    return outcome


def _insert(value: str, then_fail: bool = False):  # noqa: ANN202
    def body(session) -> None:  # noqa: ANN001
        session.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        if then_fail:
            raise ValueError(f"{value}: refused after writing")

    return body


def test_queued_writers_share_one_commit_and_a_failure_undoes_only_its_own_writes(tmp_path) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    bodies = [_insert(f"w{i}") for i in range(WRITERS)]
    bodies[2] = _insert("w2", then_fail=True)
    bodies[4] = _insert("w0")  # the unique value writer 0 already wrote in this batch: IntegrityError
    outcome = _run_batch(engine, bodies)

    assert isinstance(outcome[2], ValueError)
    assert isinstance(outcome[4], sa.exc.IntegrityError)
    good = [i for i in range(WRITERS) if i not in (2, 4)]
    for i in good:
        status, seen = outcome[i]
        assert status == "ok" and f"w{i}" in seen, f"writer {i} returned before its write was committed"
    assert _committed(engine) == {f"w{i}" for i in good}
    assert len(commits) == 1, f"{WRITERS} writers queued together took {len(commits)} COMMITs"


def test_a_failed_commit_fails_every_writer_of_the_batch(tmp_path) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)

    def refuse(conn) -> None:  # noqa: ANN001
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    sa.event.listen(engine, "commit", refuse)
    outcome = _run_batch(engine, [_insert(f"w{i}") for i in range(WRITERS)])
    sa.event.remove(engine, "commit", refuse)

    assert all(isinstance(outcome[i], db.DatabaseBusy) for i in range(WRITERS)), outcome
    assert _committed(engine) == set()
    # the next writer gets a fresh transaction and commits normally
    with db.make_sessionmaker(engine)() as session, db.writing(session):
        session.execute(sa.text("INSERT INTO t (v) VALUES ('after')"))
    assert _committed(engine) == {"after"}


@pytest.mark.parametrize("n", [1, 3])
def test_lone_and_sequential_writers_commit_each_write(tmp_path, n: int) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    sessions = db.make_sessionmaker(engine)
    for i in range(n):
        with sessions() as session, db.writing(session):
            session.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": f"s{i}"})
        assert f"s{i}" in _committed(engine)
