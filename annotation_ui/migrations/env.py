"""Alembic environment: runs on the connection handed in by `annotation_ui.db.upgrade`."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from annotation_ui.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # noqa: ANN001
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic -x url=...` from a shell
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
