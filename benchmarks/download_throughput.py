"""Objaverse download throughput and completion: partverse's downloader vs the `objaverse` package.

A local mirror (tests/objaverse_server.py, in its own process) serves N Objaverse 1.0 GLBs made
from ../shared/data/assets. Measured in one run, same server, fresh cache each time:
  - objaverse.load_objects(uids, download_processes=8): the package's own code path
    (multiprocessing.Pool(8) of urllib.request.urlretrieve, .tmp then rename, a glob of the
    cache after every file), with `_VERSIONED_PATH` pointed at a temp cache and the base URL swapped;
  - bare Pool(8) of urlretrieve + rename (the package's core without its per-file glob);
  - partverse.objaverse.batch.download_selection with 8 threads (durable=True: fsync per file).
Then the same with a fraction of requests faulted (500, 429 + Retry-After: 1, connection reset
mid-body, wrong bytes, truncated body). "complete" counts files whose sha256 is the real one.

  python benchmarks/download_throughput.py [--n 2000] [--fault-rate 0.05] [--workers 8]
"""
from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.objaverse_server import FAULT_KINDS, build_v1, small_glbs  # noqa: E402

_DEFAULT_SHARED = REPO.parent / "shared" / "data"
if not _DEFAULT_SHARED.is_dir():  # worktrees live one level deeper than the main checkout
    _DEFAULT_SHARED = REPO.parents[1] / "shared" / "data"
ASSETS = Path(os.environ.get("PARTVERSE_SHARED_DATA", _DEFAULT_SHARED)) / "assets"
HF = "https://huggingface.co/datasets/allenai/objaverse/resolve/main"


def _serve(n: int, conn) -> None:
    from tests.objaverse_server import FaultServer, add_xl

    mirror = build_v1(small_glbs(ASSETS), n, shards=160)
    server = FaultServer(mirror.files)
    add_xl(mirror, server.url, small_glbs(ASSETS), smithsonian=0)
    server.request_queue_size = 256
    server.start()
    conn.send(server.url)
    while True:
        msg = conn.recv()
        if msg is None:
            break
        server.reset()
        server.random_fault_rate, server.fault_kinds = msg
        server.rng.seed(1)
        conn.send("ok")
    server.stop()


def _count_complete(cache_v1: Path, mirror) -> int:
    ok = 0
    for uid in mirror.uids:
        p = cache_v1 / mirror.object_paths[uid]
        if p.exists() and hashlib.sha256(p.read_bytes()).hexdigest() == mirror.glb_sha[uid]:
            ok += 1
    return ok


def _seed_index(cache_v1: Path, url: str) -> None:
    """object-paths.json.gz in place so both tools only download GLBs."""
    cache_v1.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(f"{url}/v1/object-paths.json.gz") as r:
        (cache_v1 / "object-paths.json.gz").write_bytes(r.read())


def _swap_base(url: str):
    real = urllib.request.urlretrieve

    def retrieve(u, filename=None, *a, **k):
        return real(u.replace(HF, f"{url}/v1"), filename, *a, **k)

    return retrieve


def run_objaverse_package(url: str, uids: list[str], cache: Path, workers: int) -> tuple[float, str]:
    import objaverse

    objaverse._VERSIONED_PATH = str(cache / "hf-objaverse-v1")
    urllib.request.urlretrieve = _swap_base(url)  # inherited by the forked pool workers
    t = time.perf_counter()
    err = ""
    try:
        objaverse.load_objects(uids, download_processes=workers)
    except Exception as exc:  # one failed download aborts the package's whole call
        err = f"{type(exc).__name__}: {str(exc)[:80]}"
    return time.perf_counter() - t, err


def _bare_one(args) -> bool:
    src, dst = args
    try:
        urllib.request.urlretrieve(src, dst + ".tmp")
        os.rename(dst + ".tmp", dst)
        return True
    except Exception:
        return False


def run_bare_pool(url: str, mirror, cache: Path, workers: int) -> tuple[float, str]:
    jobs = []
    for uid in mirror.uids:
        dst = cache / "hf-objaverse-v1" / mirror.object_paths[uid]
        dst.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((f"{url}/v1/{mirror.object_paths[uid]}", str(dst)))
    t = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        ok = sum(pool.map(_bare_one, jobs, chunksize=4))
    return time.perf_counter() - t, f"{len(jobs) - ok} raised" if ok < len(jobs) else ""


def run_partverse(url: str, mirror, cache: Path, workers: int, durable: bool, processes: int = 1) -> tuple[float, str]:
    from partverse.objaverse.batch import download_selection, download_selection_processes, summarize
    from partverse.objaverse.http import Fetcher, HostLimiter, RetryPolicy
    from partverse.objaverse.layout import CacheLayout
    from partverse.objaverse.selection import SelectionSpec, select
    from partverse.objaverse.sources import XLAnnotations
    from partverse.objaverse.v1 import ObjaverseV1
    from tests.objaverse_server import LICENSES

    layout = CacheLayout.create(cache, f"{url}/v1", f"{url}/xl")
    policy = RetryPolicy(attempts=6, read_timeout_s=10, total_timeout_s=60, backoff_base_s=0.1, max_backoff_s=2)
    with Fetcher(layout.tmp, policy, HostLimiter(max_per_host=workers), max_connections=workers,
                 durable=durable, seed=0) as fetcher:
        v1 = ObjaverseV1(layout, fetcher)
        rows = select(SelectionSpec(licenses=LICENSES), v1=v1, xl=XLAnnotations(layout, fetcher)).table.to_pylist()
        t = time.perf_counter()
        if processes > 1:
            outcomes = list(download_selection_processes(rows, layout, policy, processes=processes, workers=workers,
                                                         max_per_host=workers, durable=durable))
        else:
            outcomes = list(download_selection(rows, layout, fetcher, v1, workers=workers))
        dt = time.perf_counter() - t
    counts = summarize(outcomes)
    return dt, "" if counts.get("failed", 0) == 0 else str(counts)


def _child(fn, cache: Path, q) -> None:
    """Run one client with stdout silenced (the package prints a line per object)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    q.put(fn(cache))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--fault-rate", type=float, default=0.05)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--fault-kinds", default=",".join(FAULT_KINDS),
                    help=f"comma-separated, from {','.join(FAULT_KINDS)} (429:1 pauses the whole host 1 s)")
    args = ap.parse_args()
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    mirror = build_v1(small_glbs(ASSETS), args.n, shards=160)
    total_mb = sum(len(mirror.files[f"/v1/{mirror.object_paths[u]}"]) for u in mirror.uids) / 1e6
    parent, child = mp.Pipe()
    server = mp.get_context("fork").Process(target=_serve, args=(args.n, child), daemon=True)
    server.start()
    url = parent.recv()
    print(f"{args.n} objects, {total_mb:.0f} MB, server {url} (own process), {args.workers} workers, "
          f"{os.cpu_count()} CPUs")
    runners = {
        "objaverse.load_objects": lambda c: run_objaverse_package(url, mirror.uids, c, args.workers),
        "bare Pool+urlretrieve": lambda c: run_bare_pool(url, mirror, c, args.workers),
        "partverse (fsync)": lambda c: run_partverse(url, mirror, c, args.workers, True),
        "partverse (no fsync)": lambda c: run_partverse(url, mirror, c, args.workers, False),
        "partverse 2 processes": lambda c: run_partverse(url, mirror, c, args.workers, True, processes=2),
    }
    results = {}
    for rate in (0.0, args.fault_rate):
        print(f"\n-- fault rate {rate:.0%} {'(' + ','.join(kinds) + ')' if rate else ''} --")
        for name, fn in runners.items():
            parent.send((rate, kinds))
            parent.recv()
            cache = Path(tempfile.mkdtemp(prefix="dlbench-"))
            _seed_index(cache / "hf-objaverse-v1", url) if name.startswith(("objaverse", "bare")) else None
            # run each client in a fresh forked process so monkeypatches and pools do not leak
            q = mp.get_context("fork").Queue()
            p = mp.get_context("fork").Process(target=_child, args=(fn, cache, q))
            p.start()
            seconds, note = q.get()
            p.join()
            done = _count_complete(cache / "hf-objaverse-v1", mirror)
            results[(rate, name)] = (seconds, done)
            print(f"{name:>24}: {seconds:7.2f} s  {done / seconds:7.1f} obj/s  complete {done}/{args.n} "
                  f"({done / args.n:.1%}) {note}")
            shutil.rmtree(cache, ignore_errors=True)
    print("\nratios (objects/s of partverse (fsync) / baseline):")
    for rate in (0.0, args.fault_rate):
        ours = results[(rate, "partverse (fsync)")]
        two = results[(rate, "partverse 2 processes")]
        for base in ("objaverse.load_objects", "bare Pool+urlretrieve"):
            b = results[(rate, base)]
            print(f"  faults {rate:.0%} vs {base}: throughput x{(ours[1] / ours[0]) / (b[1] / b[0]):.2f} "
                  f"(2 processes x{(two[1] / two[0]) / (b[1] / b[0]):.2f}), "
                  f"completion {ours[1] / args.n:.1%} vs {b[1] / args.n:.1%}")
    parent.send(None)
    server.join(timeout=5)


if __name__ == "__main__":
    main()
