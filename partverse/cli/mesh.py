"""`partverse inspect`: load and validate one mesh file."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from partverse.errors import MeshLoadError


def register(app: typer.Typer) -> None:
    app.command()(inspect)


def inspect(
    path: Path = typer.Argument(..., help="mesh file (GLB, glTF, OBJ, PLY, OFF, STL, FBX)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Load and validate a mesh; print faces, vertices, artist parts, materials, warnings."""
    from partverse.io import load

    try:
        mesh = load(path)
    except MeshLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    info = {
        "path": str(path),
        "faces": mesh.num_faces,
        "vertices": mesh.num_vertices,
        "artist_parts": [p.name for p in mesh.artist_parts],
        "materials": [m.name for m in mesh.materials],
        "textured": mesh.textured,
        "warnings": list(mesh.warnings),
    }
    if as_json:
        json.dump(info, sys.stdout)
        sys.stdout.write("\n")
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")
