"""Artist-prior segmentation and part export time, as a ratio of `trimesh.load` of the same file.

For each asset in the shared data's assets/ (or --assets DIR), the median over --repeats rounds
(one warm-up round first; in every round the four timings run back to back, so a change of
machine load hits baseline and candidates alike) of:
  load    = trimesh.load(path), the baseline, measured in this run;
  seg     = artist_segmentation(mesh): the per-face labels (weld -> connectivity -> numbering),
            on the loaded, normalized partverse mesh;
  samples = part_samples(mesh, labels, 4096): the export of 4096 area-weighted surface samples
            (points + normals) for every part, with every part's face set and box;
  export  = export_parts(mesh, labels, num_samples=4096): the same plus textured part GLBs.
Prints seg/load, samples/load, export/load and (seg + export)/load per asset, then the medians
over assets. Targets (issue 2): seg/load <= 1, samples/load <= 1; export/load has none.
Samples grow as parts x 4096 while trimesh.load does not, so many-part assets sit above 1x; the
ns/sample column (samples time / (parts x 4096)) is the per-sample cost, to judge them by.
FBX files are skipped (trimesh cannot load them: no baseline).
--clock wall (default) times with time.perf_counter; --clock cpu with time.process_time (this
process's CPU time: less disturbed when other jobs share the cores; everything timed here is
single-threaded, so on an idle machine both clocks agree).

    python benchmarks/segment_vs_load.py [--assets DIR] [--repeats 5] [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trimesh  # noqa: E402

from partverse.geometry.normalize import normalize  # noqa: E402
from partverse.geometry.parts import export_parts, part_samples  # noqa: E402
from partverse.io import load  # noqa: E402
from partverse.segment.artist import artist_segmentation  # noqa: E402

DEFAULT_ASSETS = Path(os.environ.get("PARTVERSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "assets"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def asset_files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in (".glb", ".gltf", ".obj", ".ply", ".off", ".stl")]
    return [p for p in files if "textures" not in p.parts]


def measure(path: Path, repeats: int, clock=time.perf_counter) -> tuple[int, int, dict[str, float]]:
    """Faces, parts and the median seconds of load / seg / samples / export over `repeats` rounds."""
    mesh = normalize(load(path))
    labels = artist_segmentation(mesh)
    steps = {
        "load": lambda: trimesh.load(str(path)),
        "seg": lambda: artist_segmentation(mesh),
        "samples": lambda: part_samples(mesh, labels, 4096),
        "export": lambda: export_parts(mesh, labels, num_samples=4096),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for round_ in range(repeats + 1):
        for name, fn in steps.items():
            t = timed(fn, clock)
            if round_:  # round 0 warms caches and lazy imports
                times[name].append(t)
    return mesh.num_faces, int(labels.max()) + 1, {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    files = asset_files(args.assets)
    if not files:
        sys.exit(f"{args.assets}: no assets found (set PARTVERSE_SHARED_DATA or pass --assets)")
    print(f"clock: {args.clock}; load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    print(f"{'asset':44s} {'faces':>6s} {'parts':>5s} {'load ms':>8s} {'seg/load':>8s} {'samples/load':>12s} "
          f"{'export/load':>11s} {'total/load':>10s} {'ns/sample':>9s}")
    ratios: dict[str, list[float]] = {"seg": [], "samples": [], "export": []}
    per_sample: list[float] = []
    for path in files:
        faces, parts, t = measure(path, args.repeats, CLOCKS[args.clock])
        for key in ratios:
            ratios[key].append(t[key] / t["load"])
        per_sample.append(t["samples"] / (parts * 4096) * 1e9)
        print(f"{str(path.relative_to(args.assets))[:44]:44s} {faces:6d} {parts:5d} {t['load'] * 1e3:8.2f} "
              f"{t['seg'] / t['load']:8.2f} {t['samples'] / t['load']:12.2f} {t['export'] / t['load']:11.2f} "
              f"{(t['seg'] + t['export']) / t['load']:10.2f} {per_sample[-1]:9.1f}")
    print(f"median over {len(files)} assets ({args.repeats} rounds each): seg/load {statistics.median(ratios['seg']):.2f}x, "
          f"samples/load {statistics.median(ratios['samples']):.2f}x, export/load {statistics.median(ratios['export']):.2f}x "
          f"(targets: seg <= 1x, samples <= 1x); samples {statistics.median(per_sample):.1f} ns/sample")
    print(f"load average at end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
