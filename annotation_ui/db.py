"""Engine, sessions and schema upgrades.

SQLite runs in WAL mode. Reads use plain (deferred) transactions, which never block writers.
Every write goes through `begin_write(session)`, which starts the transaction with
`BEGIN IMMEDIATE`: the write lock is taken when the transaction starts, so two requests never both
read a snapshot and then race to upgrade it (which SQLite answers with SQLITE_BUSY instead of
waiting), and no lock is held across FastAPI's thread hops. PostgreSQL needs nothing special.
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
_WRITE_LOCKS: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()
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


def _write_lock(engine: Engine) -> threading.Lock:
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(engine, threading.Lock())


@contextlib.contextmanager
def writing(session: Session, timeout: float = 30.0) -> Iterator[None]:
    """A write transaction, always ended on exit (committed, or rolled back on an exception).

    SQLite: ends any read transaction and begins with BEGIN IMMEDIATE. PostgreSQL: goes on in the
    session's current transaction (READ COMMITTED), begun on first use.

    On SQLite, writers of this process also queue on one lock first, so they wait in turn instead
    of polling SQLite's busy handler (which starves some writers under load). The transaction is
    committed on normal exit (a no-op if the body committed) and rolled back on an exception.
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
    session.rollback()
    lock = _write_lock(engine)
    if not lock.acquire(timeout=timeout):
        raise DatabaseBusy(f"database busy: no write slot within {timeout:.0f} s")
    try:
        token = _IMMEDIATE.set(True)
        try:
            session.connection()
        finally:
            _IMMEDIATE.reset(token)
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        lock.release()


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
