"""`partverse annotate push|pull`: send a build's segmentation to the annotation server, fetch accepted labels."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

annotate_app = typer.Typer(help="Exchange tasks and accepted labels with the annotation server.", no_args_is_help=True)

_SERVER = typer.Option("http://127.0.0.1:8000", "--server", envvar="PARTVERSE_SERVER", help="annotation server URL")
_TOKEN = typer.Option(..., "--token", envvar="PARTVERSE_TOKEN", help="API token (push: admin; pull: reviewer/admin)")


def register(app: typer.Typer) -> None:
    app.add_typer(annotate_app, name="annotate")


def _client(server: str, token: str):  # noqa: ANN202
    from partverse.extras import require

    require("httpx", "server")
    from annotation_ui.client import Client

    return Client(server, token)


def _release_rows(run_dir: Path):  # noqa: ANN202
    """Yield (uid, face_labels (F,) int32, normalized_glb bytes) from RUN_DIR/release/objects-*.parquet."""
    import numpy as np
    import pyarrow.parquet as pq

    from partverse.data.schema import check_schema_version

    shards = sorted((run_dir / "release").glob("objects-*.parquet"))
    if not shards:
        raise typer.BadParameter(f"{run_dir / 'release'}: no objects-*.parquet shard", param_hint="--run")
    for shard in shards:
        pf = pq.ParquetFile(shard)
        check_schema_version(pf.schema_arrow, str(shard))
        for batch in pf.iter_batches(batch_size=16, columns=["uid", "face_labels", "normalized_glb"]):
            for row in batch.to_pylist():
                yield row["uid"], np.asarray(row["face_labels"] or [], dtype=np.int32), row["normalized_glb"], shard


@annotate_app.command("push")
def push(
    run: Path = typer.Option(..., "--run", help="a build's run folder (reads release/objects-*.parquet)"),
    project: str = typer.Option(..., "--project", help="project name (created if missing)"),
    server: str = _SERVER,
    token: str = _TOKEN,
    batch: int = typer.Option(32, "--batch", min=1, max=1000, help="tasks per request"),
) -> None:
    """Create one task per object of the build: its normalized mesh and its automatic labels."""
    from annotation_ui import labels as L
    from annotation_ui.client import pack

    client = _client(server, token)
    client.ensure_project(project, f"pushed from {run}")
    pending: list[dict] = []
    counts = {"created": 0, "skipped": 0, "refused": 0}

    def flush() -> None:
        if pending:
            result = client.add_tasks(project, pending)
            counts["created"] += len(result["created"])
            counts["skipped"] += len(result["skipped"])
            pending.clear()

    for uid, labels, glb, shard in _release_rows(run):
        try:
            if not glb:
                raise L.LabelError("normalized_glb is empty")
            L.validate(labels, labels.shape[0])
        except L.LabelError as exc:
            typer.echo(f"{shard}: object {uid}: {exc}; not pushed", err=True)
            counts["refused"] += 1
            continue
        pending.append({"uid": uid, "mesh_sha256": client.upload(glb), "labels": pack(labels)})
        if len(pending) >= batch:
            flush()
    flush()
    typer.echo(f"project {project}: {counts['created']} tasks created, {counts['skipped']} already there, "
               f"{counts['refused']} refused")


@annotate_app.command("pull")
def pull(
    project: str = typer.Option(..., "--project"),
    out: Path = typer.Option(..., "--out", help="folder for <uid>.npz annotations (the pipeline's annotation input)"),
    server: str = _SERVER,
    token: str = _TOKEN,
) -> None:
    """Write every accepted annotation of the project as `<out>/<uid>.npz` (save_annotation)."""
    from partverse.data.annotations import save_annotation
    from partverse.records import Annotation

    client = _client(server, token)
    n = 0
    for item in client.accepted(project):
        save_annotation(out, Annotation(
            uid=item["uid"], face_labels=item["labels"],
            part_names={int(k): v for k, v in item["part_names"].items()}, status=item["status"],
            reason=item["reason"], author=item["author"], revision=int(item["revision"]),
            updated_at=item["updated_at"] or dt.datetime.now(dt.timezone.utc).isoformat(),
        ))
        n += 1
    typer.echo(f"project {project}: {n} accepted annotations written to {out}")
