"""`partverse segment PATH --method artist|geometric|samesh|auto --out LABELS.npy`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from partverse.errors import PartverseError


def register(app: typer.Typer) -> None:
    app.command()(segment)


def segment(
    path: Path = typer.Argument(..., help="mesh file (GLB, glTF, OBJ, PLY, OFF, STL, FBX)"),
    out: Path = typer.Option(..., "--out", help="where to write the (F,) int32 labels (.npy), face order of the loaded mesh"),
    method: str = typer.Option("auto", "--method", help="artist | geometric | samesh | auto"),
    granularity: float = typer.Option(1.0, "--granularity", help="> 0; higher gives more segments (each refining the coarser)"),
    num_parts: Optional[int] = typer.Option(None, "--num-parts", help="target number of segments"),
    sam2: Optional[str] = typer.Option(None, "--sam2", help="SAM-2 model (local path or hub id) for samesh / auto"),
    seed: int = typer.Option(0, "--seed", help="random seed (results are deterministic given it)"),
) -> None:
    """Over-segment one mesh and save per-face labels."""
    import numpy as np

    from partverse.io import load
    from partverse.segment import segment as run_segment

    params: dict = {}
    if method == "artist":
        if num_parts is not None:
            params["max_parts"] = num_parts
    else:
        params.update(granularity=granularity, num_parts=num_parts, seed=seed)
        if sam2 is not None or method == "samesh":
            params["sam2"] = sam2
    try:
        mesh = load(path)
        labels = run_segment(mesh, method, **params)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, labels.astype(np.int32))
    typer.echo(f"{path}: {len(labels)} faces, {int(labels.max()) + 1 if len(labels) else 0} segments -> {out}")
