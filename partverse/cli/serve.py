"""`partverse serve`: run the annotation server (SQLite file by default, PostgreSQL with --db)."""
from __future__ import annotations

import os
from pathlib import Path

import typer

from partverse.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    db: str = typer.Option(None, "--db", envvar="PARTVERSE_DB_URL",
                           help="database URL, e.g. postgresql://user@host/db (default: SQLite file in --data-dir)"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    data_dir: Path = typer.Option(None, "--data-dir", envvar="PARTVERSE_DATA_DIR",
                                  help="folder for the SQLite file and the mesh store (default ./annotation_data)"),
    lease_seconds: float = typer.Option(None, "--lease-seconds", help="how long a claimed task stays yours"),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="server processes (uvicorn workers) sharing the port; the database keeps "
                                     "claims and writes atomic across them (SQLite WAL or PostgreSQL)"),
) -> None:
    """Serve the annotation API on http://HOST:PORT/api/v1 (OpenAPI at /api/v1/docs)."""
    from partverse.extras import require

    uvicorn = require("uvicorn", "server")
    require("fastapi", "server")
    from pydantic import ValidationError

    from annotation_ui.app import create_app
    from annotation_ui.settings import Settings

    try:
        settings = Settings.from_env(db_url=db, data_dir=data_dir, lease_seconds=lease_seconds)
    except ValidationError as exc:
        problems = "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())
        typer.echo(str(ConfigError(f"annotation server settings: {problems}")), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"partverse annotation server: {settings.database_url.split('@')[-1]} on http://{host}:{port}/api/v1"
               f"{f' ({workers} workers)' if workers > 1 else ''}", err=True)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
        return
    _migrate_once(settings)  # before the workers start, so they never race on the schema
    os.environ.update(_settings_env(settings))  # each worker rebuilds the same Settings from the environment
    uvicorn.run("annotation_ui.app:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", timeout_graceful_shutdown=5)


def _settings_env(settings) -> dict[str, str]:  # noqa: ANN001
    return {f"PARTVERSE_{name.upper()}": str(value) for name, value in settings.model_dump().items()
            if value is not None}


def _migrate_once(settings) -> None:  # noqa: ANN001
    from annotation_ui import db as database

    engine = database.make_engine(settings.database_url, pool_size=1)
    try:
        database.upgrade(engine)
    finally:
        engine.dispose()
