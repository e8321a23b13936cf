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



@app.command()
def version() -> None:
    """Print the partverse version."""
    from partverse import __version__

    typer.echo(__version__)


def _register_all() -> None:
    # every module in this package that defines register(app) adds its commands;
    # modules import their heavy dependencies inside the commands, so this stays fast
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)


def main() -> None:
    _register_all()
    app()
