"""Engine, sessions and schema upgrades.

SQLite runs in WAL mode. Reads use plain (deferred) transactions, which never block writers.
Every write goes through `writing(session)`: its transaction starts with `BEGIN IMMEDIATE`, so the
write lock is taken when the transaction starts (two requests never both read a snapshot and then
race to upgrade it, which SQLite answers with SQLITE_BUSY instead of waiting), the writers of a
process share transactions and their fsyncs (group commit), and no lock is held across FastAPI's
thread hops. PostgreSQL needs nothing special.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_IMMEDIATE = contextvars.ContextVar("partverse_sqlite_immediate", default=False)
_GROUPS: "weakref.WeakKeyDictionary[Engine, _GroupCommit]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
T = TypeVar("T")


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, sqlite_synchronous, pool_size)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_engine(url: str, synchronous: str, pool_size: int) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError(f"db_url={url!r}: an in-memory SQLite database is not shared between requests; use a file")
    path = url.split("///", 1)[-1]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _IMMEDIATE.get() else "BEGIN")

    return engine


class DatabaseBusy(RuntimeError):
    pass


@contextlib.contextmanager
def writing(session: Session, timeout: float = 30.0) -> Iterator[None]:
    """A write transaction, always ended on exit (committed, or rolled back on an exception).

    PostgreSQL: goes on in the session's current transaction (READ COMMITTED), begun on first use;
    concurrent commits share WAL flushes inside PostgreSQL. SQLite: the body runs in a savepoint of
    this process's current group transaction (see `_GroupCommit`), and `writing` returns only after
    the COMMIT holding the body's writes succeeded; an exception in the body undoes only the body.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        # PostgreSQL (READ COMMITTED): each statement sees the latest commits, so a read transaction
        # the request already opened simply goes on as the write transaction (no second checkout)
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return
    session.rollback()  # end any read transaction first: the body sees the group transaction's state
    group = _group_commit(engine)
    batch = group.join(engine, timeout)
    failure: BaseException | None = None
    bind, mode = session.bind, session.join_transaction_mode
    session.bind = batch.conn
    session.join_transaction_mode = "create_savepoint"  # commit / rollback act on the body's SAVEPOINT
    try:
        yield
        session.commit()
    except BaseException as exc:
        failure = exc
        try:
            session.rollback()
        except BaseException as undo:  # the body's writes could not be undone: nobody's may commit
            batch.error = undo
    finally:
        session.bind, session.join_transaction_mode = bind, mode
        group.leave(batch, wait=failure is None)
    if failure is not None:
        raise failure


class _Batch:
    """One SQLite write transaction shared by the writers that joined it before its COMMIT.

    `error` set before the COMMIT (a writer's savepoint could not be rolled back) rolls it back instead.
    """

    __slots__ = ("conn", "members", "done", "error")

    def __init__(self, conn) -> None:  # noqa: ANN001
        self.conn = conn
        self.members = 0
        self.done = threading.Event()
        self.error: BaseException | None = None


class _GroupCommit:
    """Group commit for the SQLite writers of one process (one per engine).

    With synchronous=FULL every COMMIT waits for an fsync (milliseconds), and SQLite has one writer
    at a time, so one transaction per request caps a server at 1 / fsync writes per second whatever
    its CPU. Here writers queue on one lock (in turn, no polling of SQLite's busy handler); the first
    begins a transaction (BEGIN IMMEDIATE), each runs its body in a savepoint of it, and the writer
    that finds nobody queued behind it commits for all: one fsync covers the whole batch. No writer
    returns before that COMMIT succeeded (a failed COMMIT is raised in every member), so an
    acknowledged write is durable as before; a body that fails rolls back only its savepoint.
    """

    MAX_BATCH = 64  # commit at the latest after this many writers, however many are queued

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by the writer running its body, or committing
        self.queued = 0  # writers waiting for `lock`
        self._count = threading.Lock()
        self.batch: _Batch | None = None

    def join(self, engine: Engine, timeout: float) -> _Batch:
        """Take the lock (DatabaseBusy after `timeout`) and return the open batch, begun if need be."""
        with self._count:
            self.queued += 1
        got = self.lock.acquire(timeout=timeout)
        with self._count:
            self.queued -= 1
        if not got:
            raise DatabaseBusy(f"database busy: no write slot within {timeout:.0f} s")
        try:
            if self.batch is None:
                conn = engine.connect()
                token = _IMMEDIATE.set(True)
                try:
                    conn.begin()
                except BaseException:
                    conn.close()
                    raise
                finally:
                    _IMMEDIATE.reset(token)
                self.batch = _Batch(conn)
            self.batch.members += 1
            return self.batch
        except BaseException:
            self.lock.release()
            raise

    def leave(self, batch: _Batch, wait: bool) -> None:
        """Called with the lock held after the body: commit if last, else let the next writer in.

        With `wait`, return only once the batch is committed (raising its COMMIT error, if any).
        """
        with self._count:
            last = self.queued == 0 or batch.members >= self.MAX_BATCH
        if last:
            self._commit(batch)
        else:
            self.lock.release()
        # a writer that timed out in `join` may have looked queued: whoever holds the lock then commits
        while wait and not batch.done.wait(0.2):
            if self.lock.acquire(timeout=0.2):
                if self.batch is batch:
                    self._commit(batch)
                else:
                    self.lock.release()
        if wait and batch.error is not None:
            raise DatabaseBusy(f"database write failed at COMMIT: {batch.error}") from batch.error

    def _commit(self, batch: _Batch) -> None:
        """COMMIT `batch` (lock held), wake its members, release the lock."""
        self.batch = None
        try:
            if batch.error is not None:
                raise batch.error
            batch.conn.commit()
        except BaseException as exc:  # noqa: BLE001 - every member must hear of it
            batch.error = exc
            with contextlib.suppress(Exception):
                batch.conn.rollback()
        finally:
            with contextlib.suppress(Exception):
                batch.conn.close()
            batch.done.set()
            self.lock.release()


def _group_commit(engine: Engine) -> _GroupCommit:
    with _LOCKS_GUARD:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = _GroupCommit()
        return group


def autocommit(engine: Engine, statement, params: dict):  # noqa: ANN001, ANN201
    """The first row of `statement` run as its own transaction, on PostgreSQL in autocommit mode:
    no BEGIN / COMMIT round trips, and the statement is durable (committed) when this returns."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(statement, params).first()


def read_once(session: Session, statement, params: dict):  # noqa: ANN001, ANN201
    """The first row of one read, with no transaction left open and the connection back in the pool.

    PostgreSQL runs it in autocommit (no BEGIN and ROLLBACK round trips); SQLite in a read
    transaction ended at once (local calls, no round trips).
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return autocommit(engine, statement, params)
    try:
        return session.execute(statement, params).first()
    finally:
        session.rollback()


def transaction(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a service function `fn(session, ...)` inside `writing(session)`."""

    @functools.wraps(fn)
    def wrapper(session: Session, *args: object, **kwargs: object) -> T:
        with writing(session):
            return fn(session, *args, **kwargs)

    return wrapper


def make_sessionmaker(engine: Engine, info: dict | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded objects after commit; `info` is shared by all of them (Session.info)."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to `revision` with the Alembic migrations shipped in this package."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back to `revision` (e.g. "0002"), converting data where a migration did."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)
        conn.commit()
