"""`partverse users add|token`: manage annotation-server users directly in its database."""
from __future__ import annotations

from pathlib import Path

import typer

users_app = typer.Typer(help="Annotation-server users and API tokens (works on the database directly).",
                        no_args_is_help=True)

_DB = typer.Option(None, "--db", envvar="PARTVERSE_DB_URL", help="database URL (default: SQLite in --data-dir)")
_DATA = typer.Option(None, "--data-dir", envvar="PARTVERSE_DATA_DIR", help="the server's data folder")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _session(db: str | None, data_dir: Path | None):  # noqa: ANN202
    from partverse.extras import require

    require("sqlalchemy", "server")
    from annotation_ui import db as database
    from annotation_ui.settings import Settings

    settings = Settings.from_env(db_url=db, data_dir=data_dir)
    engine = database.make_engine(settings.database_url)
    database.upgrade(engine)
    return database.make_sessionmaker(engine)(), settings


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="user name"),
    role: str = typer.Option("annotator", "--role", help="admin | annotator | reviewer"),
    token: bool = typer.Option(True, "--token/--no-token", help="also issue and print an API token"),
    db: str = _DB,
    data_dir: Path = _DATA,
) -> None:
    """Create a user (and print a new API token for it)."""
    from annotation_ui.errors import ApiError
    from annotation_ui.services import accounts

    session, settings = _session(db, data_dir)
    with session:
        try:
            accounts.add_user(session, name, role)
            if token:
                typer.echo(accounts.issue_token(session, name, settings.secret_key, "cli"))
        except ApiError as exc:
            typer.echo(f"users add {name}: {exc.detail}", err=True)
            raise typer.Exit(1)


@users_app.command("token")
def token(name: str = typer.Argument(...), db: str = _DB, data_dir: Path = _DATA) -> None:
    """Issue a new API token for an existing user and print it (shown once)."""
    from annotation_ui.errors import ApiError
    from annotation_ui.services import accounts

    session, settings = _session(db, data_dir)
    with session:
        try:
            typer.echo(accounts.issue_token(session, name, settings.secret_key, "cli"))
        except ApiError as exc:
            typer.echo(f"users token {name}: {exc.detail}", err=True)
            raise typer.Exit(1)


@users_app.command("tokens")
def tokens(name: str = typer.Argument(None, help="only this user's tokens"), db: str = _DB,
           data_dir: Path = _DATA) -> None:
    """List API tokens (id, user, label, created, revoked), never their secrets."""
    from annotation_ui.models import User
    from annotation_ui.services import accounts

    session, _ = _session(db, data_dir)
    with session:
        admin = User(id=0, name="cli", role="admin")  # the command line works on the database directly
        for row, owner in accounts.list_tokens(session, admin, name):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M:%S}Z" if row.revoked_at else "active"
            typer.echo(f"{row.id}\t{owner}\t{row.label or '-'}\t{row.created_at:%Y-%m-%d %H:%M:%S}Z\t{revoked}")


@users_app.command("revoke")
def revoke(token_id: int = typer.Argument(..., help="token id, from `partverse users tokens`"), db: str = _DB,
           data_dir: Path = _DATA) -> None:
    """Revoke an API token: the server refuses it (401) from its next request on."""
    from annotation_ui.errors import ApiError
    from annotation_ui.services import accounts

    session, _ = _session(db, data_dir)
    with session:
        try:
            row, owner = accounts.revoke_token(session, token_id, None)
        except ApiError as exc:
            typer.echo(f"users revoke {token_id}: {exc.detail}", err=True)
            raise typer.Exit(1)
        typer.echo(f"revoked token {row.id} of {owner}")
