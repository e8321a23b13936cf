"""The `partverse` command. Each command group lives in its own module with a `register(app)`."""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="partverse",
    help="Build part-level 3D datasets (ingest, segment, annotate, caption, release) and train on them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# one line per command module; each defines register(app)
_COMMAND_MODULES = [
    "partverse.cli.mesh",
    "partverse.cli.release",
    "partverse.cli.train",
]


@app.command()
def version() -> None:
    """Print the partverse version."""
    from partverse import __version__

    typer.echo(__version__)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)


def main() -> None:
    _register_all()
    app()
