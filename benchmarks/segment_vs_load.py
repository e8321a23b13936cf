"""Artist-prior segmentation and part export time, as a ratio of `trimesh.load` of the same file.

For each asset in ../shared/data/assets (or --assets DIR): the median over --repeats runs of
  load  = trimesh.load(path) (the baseline, measured in this run),
  seg     = artist_segmentation(mesh) on the loaded, normalized partverse mesh,
  samples = 4096 area-weighted surface samples (points + normals) for every part,
  export  = export_parts(mesh, labels, num_samples=4096): samples, boxes and textured part GLBs.
Prints seg/load, samples/load, export/load and (seg+export)/load per asset and their medians.
Targets: segmentation <= 1x, export of 4096 samples per part <= 1x.
FBX files are skipped (trimesh cannot load them: no baseline).

    python benchmarks/segment_vs_load.py [--assets DIR] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trimesh  # noqa: E402

from partverse.geometry.normalize import normalize  # noqa: E402
from partverse.geometry.parts import export_parts  # noqa: E402
from partverse.geometry.sampling import sample_groups  # noqa: E402
from partverse.io import load  # noqa: E402
from partverse.segment.artist import artist_segmentation  # noqa: E402

DEFAULT_ASSETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "assets"


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def asset_files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in (".glb", ".gltf", ".obj", ".ply", ".off", ".stl")]
    return [p for p in files if "textures" not in p.parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{'asset':44s} {'faces':>6s} {'parts':>5s} {'load s':>7s} {'seg/load':>8s} {'samples/load':>12s} "
          f"{'export/load':>11s} {'total/load':>10s}")
    seg_ratios, sample_ratios, export_ratios = [], [], []
    for path in asset_files(args.assets):
        t_load, _ = median_time(lambda: trimesh.load(str(path)), args.repeats)
        mesh = normalize(load(path))
        t_seg, labels = median_time(lambda: artist_segmentation(mesh), args.repeats)
        t_samples, _ = median_time(lambda: sample_groups(mesh.vertices, mesh.faces, labels, 4096), args.repeats)
        t_export, _ = median_time(lambda: export_parts(mesh, labels, num_samples=4096), args.repeats)
        seg_ratios.append(t_seg / t_load)
        sample_ratios.append(t_samples / t_load)
        export_ratios.append(t_export / t_load)
        print(f"{str(path.relative_to(args.assets))[:44]:44s} {mesh.num_faces:6d} {int(labels.max()) + 1:5d} {t_load:7.4f} "
              f"{t_seg / t_load:8.2f} {t_samples / t_load:12.2f} {t_export / t_load:11.2f} {(t_seg + t_export) / t_load:10.2f}")
    print(f"median over {len(seg_ratios)} assets: seg/load {statistics.median(seg_ratios):.2f}x, "
          f"samples/load {statistics.median(sample_ratios):.2f}x, export/load {statistics.median(export_ratios):.2f}x "
          "(targets <= 1x)")


if __name__ == "__main__":
    main()
