"""Parts per second through PartDataset vs today's loaders, measured in the same run.

A release of the shared assets (one part per scene geometry, 4096 points + normals per part) is
replicated to >= --parts parts. Each loader produces, per part: points (4096, 3), normals
(4096, 3), the box and the caption.

  (a) PartVerse layout: open each textured_part_glbs/<uid>/<part>.glb with trimesh and sample
      4096 points (what a loader of today's release does); captions from text_captions.json
  (b) one .npz per part (points, normals, box, caption), as TripoSG / PartCrafter-style loaders read
  (c) raw read speed: `cat > /dev/null` of the parts + captions shard files, page cache warm

Each loader is measured --repeats times in the same run; medians are printed with the load (uptime).
Then each stage of PartDataset alone (small columns through pyarrow, samples through the page reader).

Run:  python benchmarks/loader_throughput.py [--parts 5000] [--repeats 3] [--workdir DIR] [--keep]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from partverse.data.layout import export_partverse_layout  # noqa: E402
from partverse.data.rows import rows_from_file  # noqa: E402
from partverse.data.writer import write_release  # noqa: E402

COLUMNS = ["points", "normals", "bbox_min", "bbox_max", "caption"]


def shared_assets() -> list[Path]:
    import os

    base = Path(os.environ.get("PARTVERSE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if not base.is_dir():
        base = Path("/work/shared/data")
    return sorted((base / "assets").glob("*.glb"))


def build_rows(target_parts: int):
    objects, parts = [], []
    base = []
    for path in shared_assets():
        base.append(rows_from_file(path, license="cc0"))
    k, rng = 0, np.random.default_rng(0)
    while len(parts) < target_parts:
        for obj, ps in base:
            uid = f"{obj['uid']}-{k:04d}"
            objects.append({**obj, "uid": uid})
            # jitter the replicas' samples so that no two parts hold identical bytes (realistic compression)
            parts += [{**p, "uid": uid, "points": p["points"] + rng.normal(0, 1e-4, p["points"].shape).astype(np.float32),
                       "normals": p["normals"] + rng.normal(0, 1e-4, p["normals"].shape).astype(np.float32)} for p in ps]
        k += 1
    captions = [{"uid": p["uid"], "part_id": p["part_id"], "brief": f"the {p['name']} of {p['uid']}",
                 "detailed": f"a detailed caption of {p['name']}", "status": "ok"} for p in parts]
    return objects, parts, captions


def write_npz(parts, captions, out: Path) -> list[Path]:
    caption = {(c["uid"], c["part_id"]): c["brief"] for c in captions}
    paths = []
    for p in parts:
        path = out / p["uid"] / f"{p['part_id']}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, points=p["points"], normals=p["normals"], bbox_min=p["bbox_min"], bbox_max=p["bbox_max"],
                 caption=np.array(caption[(p["uid"], p["part_id"])]))
        paths.append(path)
    return paths


def bench_npz(paths: list[Path]) -> float:
    t = time.perf_counter()
    for path in paths:
        with np.load(path) as d:
            sample = {k: d[k] for k in ("points", "normals", "bbox_min", "bbox_max")}
            sample["caption"] = str(d["caption"])
    return len(paths) / (time.perf_counter() - t)


def bench_layout(layout: Path, limit: int) -> float:
    import trimesh

    captions = json.loads((layout / "text_captions.json").read_text())
    paths = sorted((layout / "textured_part_glbs").glob("*/*.glb"))[:limit]
    t = time.perf_counter()
    for path in paths:
        mesh = trimesh.load(str(path), force="mesh")
        points, faces = trimesh.sample.sample_surface(mesh, 4096)
        sample = {"points": points.astype(np.float32), "normals": mesh.face_normals[faces].astype(np.float32),
                  "bbox_min": mesh.bounds[0], "bbox_max": mesh.bounds[1],
                  "caption": captions[path.parent.name][path.stem][0]}
    del sample
    return len(paths) / (time.perf_counter() - t)


def bench_dataset(release: Path, epochs: int = 2) -> float:
    from partverse.data import PartDataset

    ds = PartDataset(release, columns=COLUMNS, seed=0)
    n, t = 0, time.perf_counter()
    for _ in range(epochs):
        for sample in ds:
            n += 1
    return n / (time.perf_counter() - t)


def bench_loader(release: Path, workers: int = 2, batch_size: int = 32) -> float:
    from partverse.data import PartDataLoader, PartDataset

    loader = PartDataLoader(PartDataset(release, columns=COLUMNS, seed=0), batch_size=batch_size, num_workers=workers)
    n, t = 0, time.perf_counter()
    for batch in loader:
        n += len(batch["uid"])
    return n / (time.perf_counter() - t)


def projected_bytes(files: list[Path]) -> int:
    """Bytes of the column chunks PartDataset reads (parts: uid, part_id, samples, box; captions: all)."""
    import pyarrow.parquet as pq

    wanted = {"uid", "part_id", "points", "normals", "bbox_min", "bbox_max"}
    total = 0
    for f in files:
        md = pq.ParquetFile(f).metadata
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(rg).column(c)
                if f.name.startswith("captions") or col.path_in_schema.split(".")[0] in wanted:
                    total += col.total_compressed_size
    return total


def bench_stages(release: Path) -> dict[str, float]:
    """Where PartDataset's time goes, as parts/s of each stage alone (in-process, one pass, unshuffled):
    pyarrow read of the small columns, direct page read of the samples, and the full sample path."""
    import pyarrow.parquet as pq

    from pyarrow.fs import LocalFileSystem

    from partverse.data import pages
    from partverse.data.reader import read_manifest

    files = [release / f for f in read_manifest(release)["tables"]["parts"]["files"]]
    out, n = {}, 0
    t = time.perf_counter()
    for f in files:
        pf = pq.ParquetFile(f)
        for rg in range(pf.metadata.num_row_groups):
            pf.read_row_groups([rg], columns=["uid", "part_id", "bbox_min", "bbox_max"])
            n += pf.metadata.row_group(rg).num_rows
    out["pyarrow read uid/part_id/box"] = n / (time.perf_counter() - t)
    for verify in (True, False):
        t = time.perf_counter()
        for f in files:
            pf = pq.ParquetFile(f)
            reader = pages.SampleReader(pf, None, str(f), LocalFileSystem(), verify=verify)
            for rg in range(pf.metadata.num_row_groups):
                for col in ("points", "normals"):
                    reader.read(rg, col)
        out[f"page read points+normals ({'CRC checked' if verify else 'no CRC'})"] = n / (time.perf_counter() - t)
    return out


def bench_cat(files: list[Path], parts: int) -> tuple[float, float]:
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    size = sum(f.stat().st_size for f in files)
    return parts / best, size / best


def median(values: list[float]) -> float:
    return float(np.median(values))


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", type=int, default=5000)
    ap.add_argument("--layout-parts", type=int, default=400, help="parts timed through the GLB + trimesh loader")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="measurements of every loader; medians are reported")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pv-loader-bench-"))
    try:
        t = time.perf_counter()
        objects, parts, captions = build_rows(args.parts)
        m = write_release(work / "release", objects, parts, captions, version="1.0.0")
        print(f"release: {len(objects)} objects, {len(parts)} parts, {len(m['files'])} files, "
              f"built in {time.perf_counter() - t:.1f}s")
        export_partverse_layout(work / "release", work / "layout")
        npz = write_npz(parts, captions, work / "npz")
        del objects, parts
        files = [work / "release" / f for t in ("parts", "captions") for f in m["tables"][t]["files"]]

        print(f"load before: {load()}")
        runs = []
        for r in range(args.repeats):
            run = {"ours": bench_dataset(work / "release"), "a": bench_layout(work / "layout", args.layout_parts),
                   "b": bench_npz(npz)}
            run["c"], run["c_bytes"] = bench_cat(files, m["stats"]["parts"])
            runs.append(run)
            print(f"repeat {r + 1}: PartDataset {run['ours']:.0f} parts/s; (a) {run['a']:.0f}, (b) {run['b']:.0f}, "
                  f"(c) {run['c']:.0f} parts/s ({run['c_bytes'] / 1e9:.2f} GB/s); ratios {run['ours'] / run['a']:.1f}x, "
                  f"{run['ours'] / run['b']:.1f}x, {run['ours'] / run['c']:.2f}", flush=True)
        loader = bench_loader(work / "release")
        ours, a, b, c = (median([r[k] for r in runs]) for k in ("ours", "a", "b", "c"))
        ra, rb, rc = (median([r["ours"] / r[k] for r in runs]) for k in ("a", "b", "c"))
        print(f"medians over {args.repeats} repeats (ratios: median of the per-repeat ratios); load after: {load()}")
        print(f"PartDataset (in-process, shuffled):   {ours:10.0f} parts/s")
        print(f"PartDataLoader (2 workers, batch 32): {loader:10.0f} parts/s")
        print(f"(a) PartVerse layout + trimesh:       {a:10.0f} parts/s   ratio {ra:7.1f}x  (target >= 20x)")
        print(f"(b) one .npz per part:                {b:10.0f} parts/s   ratio {rb:7.1f}x  (target >= 2x)")
        print(f"(c) cat of the shard files:           {c:10.0f} parts/s   ratio {rc:7.2f}   (target >= 0.5)")
        useful = projected_bytes(files) / sum(f.stat().st_size for f in files)
        print(f"    cat of only the column chunks read ({useful:.0%} of the bytes): ratio {rc * useful:7.2f}")
        for stage, rate in bench_stages(work / "release").items():
            print(f"    stage alone: {stage:40s} {rate:10.0f} parts/s")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
