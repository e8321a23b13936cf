"""`partverse render` and `partverse caption`: part renders and captions for a run folder.

    partverse render MESH... --run RUN_DIR [--labels ANNOTATION_DIR]   -> RUN_DIR/renders/<uid>/
    partverse caption --run RUN_DIR --backend transformers|openai|metadata [--model PATH|ID] [--endpoint URL]
                                                                        -> RUN_DIR/captions/<uid>.parquet

Each object's captions are written atomically as soon as they are done, and objects that already
have a captions file are skipped, so an interrupted run resumes where it stopped (--overwrite
redoes them). One object that fails is reported and the batch goes on.
"""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("render")(render)
    app.command("caption")(caption)


def render(
    meshes: list[Path] = typer.Argument(..., help="mesh files; the uid is the file name without extension"),
    run: Path = typer.Option(..., "--run", help="run folder; renders go to RUN/renders/<uid>/"),
    labels: Path | None = typer.Option(None, "--labels", help="folder of <uid>.npz annotations; default: the artist's parts"),
    views: int = typer.Option(8, help="orbit views around the object"),
    resolution: int = typer.Option(512, help="pixels (square) of every render"),
    mark: str = typer.Option("box", help="box | circle | none"),
) -> None:
    """Render views, best views, part renders and highlight composites of labelled meshes."""
    from partverse.data.annotations import load_annotation
    from partverse.errors import PartverseError
    from partverse.io import load
    from partverse.render.composite import HighlightStyle
    from partverse.render.objects import RenderConfig, render_object
    from partverse.render.store import save_renders

    try:
        config = RenderConfig(views=views, resolution=resolution, style=HighlightStyle(mark=mark))
    except PartverseError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    failed = 0
    for path in meshes:
        uid = path.stem
        try:
            mesh = load(path)
            ann = load_annotation(labels, uid) if labels else None
            if ann is not None:
                face_labels, names = ann.face_labels, ann.part_names
            else:
                face_labels, names = mesh.face_artist_part, {i: p.name for i, p in enumerate(mesh.artist_parts)}
            out = render_object(uid, mesh, face_labels, names, config)
            save_renders(run / "renders", out)
            typer.echo(f"{uid}: {len(out.parts)} parts, {sum(p.best_view >= 0 for p in out.parts)} visible")
        except PartverseError as exc:
            failed += 1
            typer.echo(f"{path}: {exc}", err=True)
    if failed:
        raise typer.Exit(1)


def caption(
    run: Path = typer.Option(..., "--run", help="run folder with RUN/renders/<uid>/ from the render stage"),
    backend: str = typer.Option("metadata", help="transformers | openai | metadata"),
    model: str | None = typer.Option(None, help="local path or hub id (transformers) / model name (openai)"),
    endpoint: str | None = typer.Option(None, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"),
    batch_size: int = typer.Option(4, help="objects per model batch (transformers)"),
    concurrency: int = typer.Option(8, help="requests in flight (openai)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    max_new_tokens: int = typer.Option(256),
    overwrite: bool = typer.Option(False, help="caption objects that already have captions again"),
) -> None:
    """Caption every rendered object and its parts; write RUN/captions/<uid>.parquet."""
    from partverse.caption.backends import CaptionConfig, make_backend
    from partverse.caption.run import caption_objects, write_captions
    from partverse.errors import PartverseError
    from partverse.render.store import list_render_folders, load_renders

    kwargs = {k: v for k, v in {"model": model, "endpoint": endpoint}.items() if v is not None}
    try:
        config = CaptionConfig(backend=backend, batch_size=batch_size, concurrency=concurrency, device=device, max_new_tokens=max_new_tokens, **kwargs)
    except PartverseError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    folders = list_render_folders(run / "renders")
    if not folders:
        if (run / "run.json").is_file():  # a `partverse build` run: its renders are the render stage's outputs
            typer.echo(f"{run}: a `partverse build` run, whose renders are its render stage's outputs; to caption "
                       f"them with another backend, change the caption stage in {run / 'config.yaml'} and run "
                       f"`partverse build --config` on it (the stages before caption are cached)", err=True)
        else:
            typer.echo(f"{run / 'renders'}: no rendered objects (run `partverse render --run {run}` first)", err=True)
        raise typer.Exit(2)
    out_dir = run / "captions"
    todo = [f for f in folders if overwrite or not (out_dir / f"{f.name}.parquet").is_file()]
    engine = make_backend(config)
    try:
        engine.setup()
    except PartverseError as exc:  # e.g. a model folder that does not exist
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    counts: dict[str, int] = {}
    failed = 0
    for s in range(0, len(todo), batch_size):
        batch = []
        for folder in todo[s : s + batch_size]:
            try:
                batch.append(load_renders(folder))
            except (PartverseError, OSError, ValueError, KeyError) as exc:
                failed += 1
                typer.echo(f"{folder}: {exc}", err=True)
        for renders, rows in zip(batch, caption_objects(batch, engine, config) if batch else []):
            write_captions(out_dir / f"{renders.uid}.parquet", rows)
            for r in rows:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing new"
    typer.echo(f"captioned {len(todo) - failed} objects ({len(folders) - len(todo)} already done): {summary}")
    if failed:
        raise typer.Exit(1)
