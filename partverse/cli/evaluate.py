"""`partverse eval segmentation --pred LABELS.npy --gt GT.seg [--gt ...] [--mesh MESH]`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from partverse.errors import PartverseError

eval_app = typer.Typer(help="Evaluate outputs against ground truth.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


@eval_app.command("segmentation")
def segmentation(
    pred: Path = typer.Option(..., "--pred", help="predicted per-face labels (.npy or .seg)"),
    gt: List[Path] = typer.Option(..., "--gt", help="ground-truth labels (.seg or .npy); repeat for several humans"),
    mesh: Optional[Path] = typer.Option(None, "--mesh", help="the mesh, to weight faces by area (as the benchmark does)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Rand-index error, Hamming missing / false-alarm rates, ASA, under-segmentation error and
    best-IoU mIoU of PRED against every GT (averaged); with several GT, also the human consistency."""
    from partverse.segment import metrics
    from partverse.segment.psb import SegFileError, read_labels

    try:
        weights, num_faces = None, None
        if mesh is not None:
            from partverse.io import load
            from partverse.segment.facegraph import face_geometry

            m = load(mesh)
            weights, num_faces = face_geometry(m.vertices, m.faces)[0], m.num_faces
        predicted = read_labels(pred, num_faces)
        truths = [read_labels(p, num_faces) for p in gt]
        for path, truth in zip(gt, truths):
            if len(truth) != len(predicted):  # without --mesh: one of the two is not of this mesh
                raise SegFileError(path, f"{len(truth)} labels, but --pred {pred} has {len(predicted)}")
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    result = {"pred": metrics.mean_scores(predicted, truths, weights), "area_weighted": weights is not None}
    if len(truths) > 1:
        result["human_consistency"] = metrics.human_consistency(truths, weights)
    if as_json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        return
    for row in ("pred", "human_consistency"):
        if row in result:
            values = "  ".join(f"{k}={v:g}" if k.startswith("num_") else f"{k}={v:.4f}" for k, v in result[row].items())
            typer.echo(f"{row}: {values}")
    if weights is None:
        typer.echo("(scores per face: pass --mesh to weight faces by area, as benchmarks/segmentation_psb.py does)")
