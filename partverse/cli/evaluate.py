"""`partverse eval segmentation [--pred LABELS.npy] [--proposals P ...] --gt GT.seg [--gt ...] [--mesh MESH]`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from partverse.cli.many_values import ManyValuesCommand
from partverse.errors import PartverseError

eval_app = typer.Typer(help="Evaluate outputs against ground truth.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


@eval_app.command("segmentation", cls=ManyValuesCommand)
def segmentation(
    pred: Optional[Path] = typer.Option(None, "--pred", help="predicted per-face labels (.npy or .seg)"),
    gt: List[Path] = typer.Option(..., "--gt", help="ground-truth labels (.seg or .npy); several humans: --gt seg/1/*.seg (or repeat --gt)"),
    proposals: List[Path] = typer.Option(
        [], "--proposals",
        help="ranked part proposals, scored by PartGen's AP and recall@K: one .npy of (N, F) boolean face masks, "
             "best first; or labellings (.npy / .seg, repeat: e.g. `partverse segment` at several --granularity "
             "values) whose segments are pooled and ranked as PartGen ranks its own"),
    iou: float = typer.Option(0.5, "--iou", help="proposals: IoU a proposal needs to match a ground-truth segment"),
    k: int = typer.Option(10, "--k", help="proposals: recall among the first K"),
    mesh: Optional[Path] = typer.Option(None, "--mesh", help="the mesh, to weight faces by area (as the benchmark does)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Rand-index error, Hamming missing / false-alarm rates, ASA, under-segmentation error and
    best-IoU mIoU of PRED against every GT (averaged); with several GT, also the human consistency;
    with --proposals, PartGen's AP at --iou and recall at --k (averaged over the GT: its mAP)."""
    from partverse.segment import metrics

    try:
        weights, predicted, truths, masks = _read_inputs(pred, gt, proposals, iou, k, mesh)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    result = {"area_weighted": weights is not None}
    if predicted is not None:
        result["pred"] = metrics.mean_scores(predicted, truths, weights)
    if len(truths) > 1:
        result["human_consistency"] = metrics.human_consistency(truths, weights)
    if masks is not None:
        result["proposals"] = _proposal_scores(masks, truths, iou, k, weights)
    if as_json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        return
    for row in ("pred", "human_consistency", "proposals"):
        if row in result:
            values = "  ".join(f"{name}={v:g}" if isinstance(v, int) or name.startswith("num_") else f"{name}={v:.4f}"
                               for name, v in result[row].items())
            typer.echo(f"{row}: {values}")
    if weights is None:
        typer.echo("(scores per face: pass --mesh to weight faces by area, as benchmarks/segmentation_psb.py does)")


def _read_inputs(pred, gt, proposals, iou, k, mesh):
    """(face weights or None, predicted labels or None, the GT labellings, ranked proposal masks or
    None), every file checked against the others' face count (PartverseError naming the file)."""
    from partverse.errors import ConfigError
    from partverse.segment import metrics
    from partverse.segment.psb import SegFileError, read_labels, read_proposals

    if pred is None and not proposals:
        raise ConfigError("nothing to evaluate: give --pred LABELS and / or --proposals")
    if not 0.0 < iou <= 1.0:
        raise ConfigError(f"--iou {iou}: must be in (0, 1]")
    if k < 1:
        raise ConfigError(f"--k {k}: must be at least 1")
    weights, num_faces = None, None
    if mesh is not None:
        from partverse.io import load
        from partverse.segment.facegraph import face_geometry

        m = load(mesh)
        weights, num_faces = face_geometry(m.vertices, m.faces)[0], m.num_faces
    truths = [read_labels(p, num_faces) for p in gt]
    num_faces = len(truths[0]) if num_faces is None else num_faces
    for path, truth in zip(gt[1:], truths[1:]):
        if len(truth) != num_faces:  # without --mesh: the GT are not all of one mesh
            raise SegFileError(path, f"{len(truth)} labels, but --gt {gt[0]} has {num_faces}")
    predicted = None
    if pred is not None:
        predicted = read_labels(pred, num_faces if mesh is not None else None)
        if len(predicted) != num_faces:  # without --mesh: one of the two is not of this mesh
            raise SegFileError(gt[0], f"{len(truths[0])} labels, but --pred {pred} has {len(predicted)}")
    masks = None
    if proposals:
        read = [read_proposals(p, num_faces) for p in proposals]
        ranked = [path for path, r in zip(proposals, read) if r.ndim == 2]
        if ranked and len(proposals) > 1:
            raise SegFileError(ranked[0], "face masks come ranked: give them as the only --proposals, or give "
                                          "labellings only (they are pooled and ranked together)")
        masks = read[0] if ranked else metrics.ranked_proposals(read, weights)
    return weights, predicted, truths, masks


def _proposal_scores(masks, truths, iou: float, k: int, weights) -> dict:
    import numpy as np

    from partverse.segment import metrics

    return {"num_proposals": int(len(masks)), "iou": iou, "k": k,
            "ap": float(np.mean([metrics.average_precision(masks, t, iou, weights) for t in truths])),
            f"recall_at_{k}": float(np.mean([metrics.recall_at_k(masks, t, k, iou, weights) for t in truths]))}
