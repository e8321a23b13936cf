"""Samesh post-processing: its cost against the SAM-2 forward, and what the graph cut buys.

    python benchmarks/samesh_postprocess.py [--data $PARTVERSE_SHARED_DATA or ../shared/data] [--resolution 256] [--repeat 3]
                                            [--skip-speed] [--skip-quality]

1. Speed (target <= 0.2): for a few meshes, SAM-2 on CPU with a tiny randomly initialised
   Sam2Model (built from the config in tests/test_segment_sam2.py, saved and loaded through
   `from_pretrained`) on the 12 views of each default modality (normals + sdf), then
   post-processing = lifting (votes) + merging (linking masks across views, clustering) +
   smoothing (`lift_masks`), and the same with the graph cut (+ the face graph it needs).
   Ratio = post-processing time / SAM-2 forward time (image encoder + mask decoder) for the same
   views, measured in the same run; medians over `--repeat` runs.
2. Quality of the graph cut (it decided its default: on in the Samesh method): on the 19 PSB models, masks = a human
   segmentation rendered into the 12 views, made noisy the way SAM-2 masks are (boundaries shifted
   by up to 2 px, a fifth of the masks dropped, two masks merged in a third of the views); lifted
   without and with the graph cut, scored against every human (area-weighted, averaged).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from partverse.io import load  # noqa: E402
from partverse.segment import metrics  # noqa: E402
from partverse.segment.facegraph import build_face_graph, face_geometry  # noqa: E402
from partverse.segment.lift import LiftConfig, lift_masks  # noqa: E402
from partverse.segment.psb import list_models, read_seg  # noqa: E402
from partverse.segment.sam2_images import DEFAULT_MODALITIES, render_modalities  # noqa: E402
from partverse.segment.samesh import mesh_graph  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def postprocess(mesh, face_ids, masks, graph_cut: bool):
    """Lift + merge + smooth (+ face graph + graph cut): the labels."""
    pairs, areas = mesh_graph(mesh)
    graph = build_face_graph(mesh.vertices, mesh.faces) if graph_cut else None
    return lift_masks(face_ids, masks, pairs, areas, LiftConfig(graph_cut=graph_cut), graph=graph)


def speed(paths: list[Path], resolution: int, repeat: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from test_segment_sam2 import tiny_sam2

    from partverse.segment.sam2_masks import MaskConfig, Sam2MaskGenerator

    print(f"1. SAM-2 forward vs post-processing, CPU, tiny model, 12 views x {len(DEFAULT_MODALITIES)} modalities at {resolution} px")
    print("mesh\tfaces\tmasks\tsam2_s\tlift_s\tratio\tlift+cut_s\tratio_cut")
    with tempfile.TemporaryDirectory() as tmp:
        config = MaskConfig(points_per_side=16, pred_iou_thresh=-1e9, stability_thresh=0.0)  # random weights: keep all
        generator = Sam2MaskGenerator(tiny_sam2(Path(tmp) / "tiny"), config, device="cpu")
    ratios, ratios_cut = [], []
    for path in paths:
        mesh = load(path)
        views = render_modalities(mesh, DEFAULT_MODALITIES, resolution)
        images = [views.images[m] for m in DEFAULT_MODALITIES]
        generator.embed(images[0][:1])  # warm-up
        rows = []
        for _ in range(repeat):
            before = sum(generator.seconds.values())
            masks = generator.pooled_masks(images, views.face_ids >= 0)
            forward = sum(generator.seconds.values()) - before
            _, lift_s = timed(lambda: postprocess(mesh, views.face_ids, masks, False))
            _, cut_s = timed(lambda: postprocess(mesh, views.face_ids, masks, True))
            rows.append((forward, lift_s, cut_s))
        forward, lift_s, cut_s = np.median(rows, axis=0)
        ratios.append(lift_s / forward)
        ratios_cut.append(cut_s / forward)
        print(f"{path.name}\t{mesh.num_faces}\t{int(masks.max()) + 1}\t{forward:.2f}\t{lift_s:.3f}\t{lift_s / forward:.3f}\t"
              f"{cut_s:.3f}\t{cut_s / forward:.3f}", flush=True)
    print(f"median ratio: {np.median(ratios):.3f} without the graph cut, {np.median(ratios_cut):.3f} with it (target <= 0.2)")


def noisy_masks(face_ids: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, H, W) SAM-2-like mask labels from the true face labels: shifted, some dropped, merged."""
    masks = np.where(face_ids >= 0, truth[np.maximum(face_ids, 0)], -1)
    out = np.full_like(masks, -1)
    for v in range(len(masks)):  # loop over views
        dy, dx = rng.integers(-2, 3, size=2)
        shifted = np.roll(masks[v], (dy, dx), axis=(0, 1))
        labels = np.unique(shifted[shifted >= 0])
        dropped = labels[rng.random(len(labels)) < 0.2]
        shifted[np.isin(shifted, dropped)] = -1
        if rng.random() < 1 / 3 and len(labels) > 2:
            a, b = rng.choice(labels, 2, replace=False)
            shifted[shifted == b] = a
        out[v] = np.where(face_ids[v] >= 0, shifted, -1)
    return out


def quality(psb: Path, resolution: int) -> None:
    print(f"\n2. Noisy human masks lifted without / with the graph cut ({resolution} px, scores vs every human)")
    print("model\tfaces\thuman_n\tn\tRI\tASA\tmIoU\tn_cut\tRI_cut\tASA_cut\tmIoU_cut\tcut_s")
    rows = []
    for model in list_models(psb):
        mesh = load(model.mesh_path)
        gts = [read_seg(p, mesh.num_faces) for p in model.seg_paths]
        areas = face_geometry(mesh.vertices, mesh.faces)[0]
        views = render_modalities(mesh, ("normals",), resolution)
        masks = noisy_masks(views.face_ids, gts[0].astype(np.int64), np.random.default_rng(int(model.model_id)))
        plain = postprocess(mesh, views.face_ids, masks, False)
        cut, cut_s = timed(lambda: postprocess(mesh, views.face_ids, masks, True))
        a, b = metrics.mean_scores(plain, gts, areas), metrics.mean_scores(cut, gts, areas)
        human_n = int(np.median([len(np.unique(g)) for g in gts]))
        row = [a["num_pred"], a["rand_index_error"], a["asa"], a["miou"], b["num_pred"], b["rand_index_error"], b["asa"], b["miou"]]
        rows.append(row)
        print(f"{model.model_id}\t{mesh.num_faces}\t{human_n}\t" + "\t".join(f"{x:.3f}" if isinstance(x, float) else str(int(x)) for x in row)
              + f"\t{cut_s:.2f}", flush=True)
    m = np.mean(rows, axis=0)
    print(f"mean\t\t\t{m[0]:.1f}\t{m[1]:.3f}\t{m[2]:.3f}\t{m[3]:.3f}\t{m[4]:.1f}\t{m[5]:.3f}\t{m[6]:.3f}\t{m[7]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("PARTVERSE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    data = Path(args.data)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_speed:
        meshes = [data / "psb" / "off" / "161.off", data / "assets" / "kenney_truck_green.glb", data / "assets" / "kaykit_knight.glb"]
        speed(meshes, args.resolution, args.repeat)
    if not args.skip_quality:
        quality(data / "psb", args.resolution)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
