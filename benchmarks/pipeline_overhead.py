"""Executor overhead: objects per second of a build of the shared assets.

Three ways over the same files and the same stage objects, measured in one run:
  floor  - the stage functions called in a plain loop (ingest, prepare, segment, annotation,
           export_parts, then write_release), no keys, no saved outputs, no quarantine files;
  local  - `partverse build` with the local executor (fresh run directory);
  ray    - the same config on the Ray executor (Ray started before timing; its start-up is
           printed separately).
Prints objects/s and the ratios local/floor and ray/local (target: local overhead <= 10%,
Ray overhead <= 25% on this small corpus).

    python benchmarks/pipeline_overhead.py [--assets DIR] [--limit N] [--skip-ray]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.config import build_stages, parse_config  # noqa: E402
from pipelines.run import run_build  # noqa: E402


def _config(run_dir: Path, inputs: Path, executor: str) -> dict:
    return {
        "run_dir": str(run_dir), "executor": executor, "progress": False,
        "ray": {"num_cpus": os.cpu_count(), "object_store_memory": 200 * 2**20},
        "stages": [
            {"name": "ingest_local", "params": {"paths": [str(inputs)]}},
            {"name": "prepare"}, {"name": "segment"}, {"name": "annotation"},
            {"name": "export_parts"}, {"name": "write_release"},
        ],
    }


def floor(inputs: Path, work: Path) -> tuple[int, float]:
    """The stage functions in a plain loop; returns (objects released, seconds)."""
    cfg = parse_config(_config(work / "floor", inputs, "local")).resolved()
    stages = build_stages(cfg)
    source, middle, sink = stages[0], stages[1:-1], stages[-1]
    source.store_dir = str(cfg.store_dir)
    t0 = time.perf_counter()
    records, seen = [], set()
    for src in source.discover():
        try:
            record = next(source.process(src))
            if record.sha256 in seen:
                continue
            seen.add(record.sha256)
            for stage in middle:
                record = next(stage.process(record))
            records.append(record)
        except Exception:  # noqa: BLE001 - bad inputs are skipped, as the executors quarantine them
            continue
    records.sort(key=lambda r: r.uid)
    sink.write(records, Path(cfg.run_dir), source_run="floor")
    return len(records), time.perf_counter() - t0


def timed_build(inputs: Path, run_dir: Path, executor: str, ex=None) -> tuple[int, float]:
    cfg = parse_config(_config(run_dir, inputs, executor))
    t0 = time.perf_counter()
    s = run_build(cfg, executor=ex)
    return s.released_objects, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("PARTVERSE_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--assets", type=Path, default=shared / "assets")
    ap.add_argument("--limit", type=int, default=0, help="only the first N mesh files (0: all)")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pv_bench_"))
    inputs = work / "in"
    inputs.mkdir()
    files = sorted(p for p in args.assets.iterdir() if p.suffix.lower() in {".glb", ".gltf", ".obj", ".ply", ".fbx"} or p.is_dir())
    for p in files[: args.limit or None]:
        (shutil.copytree if p.is_dir() else shutil.copy)(p, inputs / p.name)
    try:
        n_floor, t_floor = floor(inputs, work)
        n_local, t_local = timed_build(inputs, work / "local", "local")
        print(f"objects released: floor {n_floor}, local {n_local}")
        print(f"floor (plain loop)  : {n_floor / t_floor:7.3f} objects/s ({t_floor:.1f} s)")
        print(f"local executor      : {n_local / t_local:7.3f} objects/s ({t_local:.1f} s)")
        print(f"local overhead      : {t_local / t_floor - 1:+.1%} time vs floor (target <= +10%)")
        if not args.skip_ray:
            from pipelines.executors.ray import RayExecutor

            t0 = time.perf_counter()
            cfg = parse_config(_config(work / "ray", inputs, "ray"))
            ex = RayExecutor(cfg.ray, cfg.stages, progress=False)
            print(f"ray start-up        : {time.perf_counter() - t0:.1f} s (not counted below)")
            n_ray, t_ray = timed_build(inputs, work / "ray", "ray", ex)
            ex.close()
            print(f"ray executor        : {n_ray / t_ray:7.3f} objects/s ({t_ray:.1f} s, {os.cpu_count()} CPUs)")
            print(f"ray vs local        : {t_ray / t_local - 1:+.1%} time (target <= +25%)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
