"""Parts per second through PartDataset vs today's loaders, measured in the same run.

A release of the shared assets (one part per scene geometry, 4096 points + normals per part) is
replicated to >= --parts parts. Each loader produces, per part: points (4096, 3), normals
(4096, 3), the box and the caption.

  (a) PartVerse layout: open each textured_part_glbs/<uid>/<part>.glb with trimesh and sample
      4096 points (what a loader of today's release does); captions from text_captions.json
  (b) one .npz per part (points, normals, box, caption), as TripoSG / PartCrafter-style loaders read
  (c) raw read speed: `cat > /dev/null` of the parts + captions shard files, page cache warm

PartDataset reads the release the way a user has it: pulled (`partverse pull`, every file's sha256
checked) into a local directory; its default then skips the Parquet page CRCs of those files
(`partverse.data.verified`). It is timed twice: that default, and with page CRCs checked
(verify_pages=True, what S3 streams and unverified directories get). Each is timed over the first
epoch of a freshly built dataset (nothing kept from an earlier epoch or repeat; page cache warm, as
for (c)). Fast loaders (PartDataset, cat) take the best of 3 runs per repeat, slow ones one run;
ratios against (a) / (b) use PartDataset's median of its 3 runs.
Two clocks: wall time, and CPU time (process time, or the children's rusage for `cat`), which is
steadier on a loaded machine. Each loader is measured --repeats times; medians are printed with the
load (uptime). Then the ceiling: the bytes that must be touched (page read + CRC of the samples)
and the per-part Python objects alone (dicts of tensors sliced from already-read arrays).

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
from partverse.data.pull import pull  # noqa: E402
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


class Timer:
    """Wall and CPU seconds of a block (CPU: this process's threads plus finished children, e.g. `cat`)."""

    @staticmethod
    def _cpu() -> float:
        import resource

        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + c.ru_utime + c.ru_stime

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu


def rates(n: int, t: Timer) -> dict[str, float]:
    return {"wall": n / t.wall, "cpu": n / t.cpu}


def best_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {clock: max(r[clock] for r in runs) for clock in CLOCKS}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {clock: median([r[clock] for r in runs]) for clock in CLOCKS}


CLOCKS = ("wall", "cpu")


def bench_npz(paths: list[Path]) -> dict[str, float]:
    with Timer() as t:
        for path in paths:
            with np.load(path) as d:
                sample = {k: d[k] for k in ("points", "normals", "bbox_min", "bbox_max")}
                sample["caption"] = str(d["caption"])
    return rates(len(paths), t)


def bench_layout(layout: Path, limit: int) -> dict[str, float]:
    import trimesh

    captions = json.loads((layout / "text_captions.json").read_text())
    paths = sorted((layout / "textured_part_glbs").glob("*/*.glb"))[:limit]
    with Timer() as t:
        for path in paths:
            mesh = trimesh.load(str(path), force="mesh")
            points, faces = trimesh.sample.sample_surface(mesh, 4096)
            sample = {"points": points.astype(np.float32), "normals": mesh.face_normals[faces].astype(np.float32),
                      "bbox_min": mesh.bounds[0], "bbox_max": mesh.bounds[1],
                      "caption": captions[path.parent.name][path.stem][0]}
        del sample
    return rates(len(paths), t)


def bench_dataset(release: Path, verify_pages: bool | None = None) -> dict[str, float]:
    """One first epoch of a new PartDataset (shuffled; page CRCs as `verify_pages`), points + normals + box + caption."""
    from partverse.data import PartDataset

    n = 0
    with Timer() as t:
        for sample in PartDataset(release, columns=COLUMNS, seed=0, verify_pages=verify_pages):
            n += 1
    return rates(n, t)


def page_checks(release: Path) -> str:
    """How many parts / captions files the default PartDataset CRC-checks in `release`."""
    from partverse.data.stream import PartStream

    s = PartStream(release, columns=COLUMNS)
    return f"{sum(s.verify)}/{len(s.verify)} parts files, {sum(s.verify_captions)}/{len(s.verify_captions)} captions files"


def bench_loader(release: Path, workers: int = 2, batch_size: int = 32) -> float:
    from partverse.data import PartDataLoader, PartDataset

    loader = PartDataLoader(PartDataset(release, columns=COLUMNS, seed=0), batch_size=batch_size, num_workers=workers)
    n, t = 0, time.perf_counter()
    for batch in loader:
        n += len(batch["uid"])
    return n / (time.perf_counter() - t)


def projected_bytes(files: list[Path]) -> int:
    """Bytes of the column chunks PartDataset reads (parts: uid, part_id, samples, box; captions: uid, part_id, brief)."""
    import pyarrow.parquet as pq

    wanted = {"parts": {"uid", "part_id", "points", "normals", "bbox_min", "bbox_max"}, "captions": {"uid", "part_id", "brief"}}
    total = 0
    for f in files:
        md = pq.ParquetFile(f).metadata
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(rg).column(c)
                if col.path_in_schema.split(".")[0] in wanted[f.name.split("-")[0]]:
                    total += col.total_compressed_size
    return total


def bench_stages(release: Path, runs: int = 3) -> dict[str, dict[str, float]]:
    """Where PartDataset's time goes and what bounds it (in-process, best of `runs`):
    pyarrow read of the small columns (whole shards, as PartDataset reads them), the samples' page
    reads with and without CRC (the bytes that must be touched), and the per-part Python objects
    alone: dicts of tensors sliced, unit by unit, from arrays already in memory, through a generator."""
    import pyarrow.parquet as pq
    from pyarrow.fs import LocalFileSystem

    from partverse.data import pages
    from partverse.data.dataset import _columns_to_torch
    from partverse.data.reader import read_manifest

    files = [release / f for f in read_manifest(release)["tables"]["parts"]["files"]]
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    out: dict[str, dict[str, float]] = {}

    def small():
        for f in files:
            pq.ParquetFile(f).read(columns=["uid", "part_id", "bbox_min", "bbox_max"])

    def samples(verify):
        def read():
            for f in files:
                pf = pq.ParquetFile(f)
                reader = pages.SampleReader(pf, None, str(f), LocalFileSystem(), verify=verify)
                for rg in range(pf.metadata.num_row_groups):
                    for col in ("points", "normals"):
                        reader.read(rg, col)
        return read

    units = []  # already-read columns, 64 parts per unit (a copy: no page cache or CRC involved)
    for f in files:
        pf = pq.ParquetFile(f)
        reader = pages.SampleReader(pf, None, str(f), LocalFileSystem(), verify=False)
        for rg in range(pf.metadata.num_row_groups):
            small_cols = pf.read_row_group(rg, columns=["uid", "part_id", "bbox_min", "bbox_max"])
            k = small_cols.num_rows
            units.append({"uid": small_cols.column("uid").to_pylist(),
                          "part_id": small_cols.column("part_id").to_numpy().copy(),
                          "points": reader.read(rg, "points").copy(), "normals": reader.read(rg, "normals").copy(),
                          "bbox_min": np.zeros((k, 3), np.float32), "bbox_max": np.ones((k, 3), np.float32),
                          "caption": ["a caption"] * k})

    def objects():  # what PartDataset does per unit and per sample, on arrays already read
        def stream():
            for cols in units:
                rows = _columns_to_torch(cols, "part")
                for i in range(len(cols["uid"])):
                    yield {k: v[i] for k, v in rows.items()}
        for sample in stream():
            pass

    for name, fn in (("pyarrow read uid/part_id/box (whole shards)", small),
                     ("page read points+normals (CRC checked)", samples(True)),
                     ("page read points+normals (no CRC)", samples(False)),
                     ("per-part dicts of tensors from read arrays", objects)):
        best = []
        for _ in range(runs):
            with Timer() as t:
                fn()
            best.append(rates(n, t))
        out[name] = best_of(best)
    return out


def bench_cat(files: list[Path], parts: int) -> tuple[dict[str, float], float]:
    """Best of 3 `cat` runs after a warming one: (parts/s per clock, bytes/s wall)."""
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    runs = []
    for _ in range(3):
        with Timer() as t:
            subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
        runs.append(rates(parts, t))
    size = sum(f.stat().st_size for f in files)
    best = best_of(runs)
    return best, best["wall"] * size / parts


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
        t = time.perf_counter()
        pulled = work / "pulled"
        pull("1.0.0", work / "release", pulled, log=lambda *a: None)
        print(f"pulled into {pulled} in {time.perf_counter() - t:.1f}s; default PartDataset page CRC checks: "
              f"{page_checks(pulled)} (unpulled release: {page_checks(work / 'release')})")
        files = [pulled / f for t in ("parts", "captions") for f in m["tables"][t]["files"]]

        print(f"load before: {load()}")
        runs = []
        for r in range(args.repeats):
            ours = [bench_dataset(pulled) for _ in range(3)]
            crc = [bench_dataset(pulled, verify_pages=True) for _ in range(3)]
            run = {"ours_best": best_of(ours), "ours": median_of(ours), "crc_best": best_of(crc), "crc": median_of(crc),
                   "a": bench_layout(work / "layout", args.layout_parts), "b": bench_npz(npz)}
            run["c"], run["c_bytes"] = bench_cat(files, m["stats"]["parts"])
            runs.append(run)
            for clock in CLOCKS:
                print(f"repeat {r + 1} ({clock:4s}): PartDataset {run['ours'][clock]:.0f} parts/s (best {run['ours_best'][clock]:.0f}; "
                      f"CRC-checked best {run['crc_best'][clock]:.0f}); (a) {run['a'][clock]:.0f}, (b) {run['b'][clock]:.0f}, "
                      f"(c) {run['c'][clock]:.0f} parts/s; ratios {run['ours'][clock] / run['a'][clock]:.1f}x, "
                      f"{run['ours'][clock] / run['b'][clock]:.1f}x, {run['ours_best'][clock] / run['c'][clock]:.2f} "
                      f"(CRC-checked {run['crc_best'][clock] / run['c'][clock]:.2f})", flush=True)
            print(f"           cat: {run['c_bytes'] / 1e9:.2f} GB/s wall", flush=True)
        loader = bench_loader(pulled)
        print(f"medians over {args.repeats} repeats (ratios: median of the per-repeat ratios); load after: {load()}")
        useful = projected_bytes(files) / sum(f.stat().st_size for f in files)
        for clock in CLOCKS:
            ours, a, b, c = (median([r[k][clock] for r in runs]) for k in ("ours", "a", "b", "c"))
            ra, rb = (median([r["ours"][clock] / r[k][clock] for r in runs]) for k in ("a", "b"))
            rc = median([r["ours_best"][clock] / r["c"][clock] for r in runs])
            crc, rc_crc = median([r["crc"][clock] for r in runs]), median([r["crc_best"][clock] / r["c"][clock] for r in runs])
            print(f"[{clock} clock]")
            print(f"PartDataset (pulled release, default: page CRCs skipped for sha256-verified files; in-process, "
                  f"shuffled, first epoch): {ours:10.0f} parts/s")
            print(f"PartDataset with page CRCs checked (verify_pages=True):  {crc:10.0f} parts/s   ratio to (c) {rc_crc:7.2f}")
            print(f"(a) PartVerse layout + trimesh:       {a:10.0f} parts/s   ratio {ra:7.1f}x  (target >= 20x)")
            print(f"(b) one .npz per part:                {b:10.0f} parts/s   ratio {rb:7.1f}x  (target >= 2x)")
            print(f"(c) cat of the shard files:           {c:10.0f} parts/s   ratio {rc:7.2f}   (target >= 0.5)")
            print(f"    cat of only the column chunks read ({useful:.0%} of the bytes): ratio {rc * useful:7.2f}")
        print(f"PartDataLoader (2 workers, batch 32, wall): {loader:10.0f} parts/s")
        c_cpu = median([r["c"]["cpu"] for r in runs])
        stages = bench_stages(pulled)
        for stage, rate in stages.items():
            print(f"    stage alone: {stage:45s} {rate['cpu']:10.0f} parts/s cpu ({rate['wall']:.0f} wall)")
        for crc_label in ("CRC checked", "no CRC"):
            must = [stages[f"page read points+normals ({crc_label})"]["cpu"], stages["per-part dicts of tensors from read arrays"]["cpu"]]
            ceiling = 1 / sum(1 / x for x in must)
            print(f"    ceiling (page reads, {crc_label}, + per-part tensors, nothing else): {ceiling:.0f} parts/s cpu, "
                  f"{ceiling / c_cpu:.2f} of (c)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
