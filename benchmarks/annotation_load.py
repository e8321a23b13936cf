"""Load test of the annotation server: N simulated annotators doing claim -> get -> 5 edits -> submit.

Each annotator is a coroutine with its own HTTP connection (aiohttp, one asyncio process: the load
generator shares the machine's cores with the server, so it must stay cheap: it decodes labels only
from GET, parses replies with orjson and keeps a digest of each acknowledged submit). The server is
a real `partverse serve` process on 127.0.0.1. Edits are the server-side operations an annotator
uses (merge, split of 2000 faces, rename, a full draft save, rename) on objects of --faces faces.
After the run every acknowledged submit is checked (status, revision, labels digest, revision
count): lost writes are counted.

Two load models, both on the same server and database kinds:
  closed  back-to-back calls, no pause: the server's capacity (saturation throughput); with N
          clients each waiting for its reply, latency is then N / throughput (Little's law).
  think   each annotator pauses before every call for an exponentially distributed time (mean
          --think-mean-s, default 1 s; a person in Blender takes seconds per merge): the latency a
          person actually sees.
Latencies are printed per call as p50 / p99, with the plain HTTP round trip (GET /health measured
in the same run) as the baseline, and PostgreSQL / SQLite ratios.

    python benchmarks/annotation_load.py                                  # the issue's setting, both models
    python benchmarks/annotation_load.py --duration 15 --db sqlite --mode think
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SECRET = "benchmark-secret-0123456789abcdef0123456789"
CALLS = ("claim", "get", "merge", "split", "rename", "draft", "submit")

from annotation_ui.client import pack, unpack  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_BOOTSTRAP = """
import json, sys
from annotation_ui import db
from annotation_ui.services import accounts
url, n, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
engine = db.make_engine(url, pool_size=2)
db.upgrade(engine)
tokens = {}
with db.make_sessionmaker(engine)() as session:
    for name, role in [("lead", "admin"), *[(f"a{i:03d}", "annotator") for i in range(n)]]:
        accounts.add_user(session, name, role)
        tokens[name] = accounts.issue_token(session, name, secret)
engine.dispose()
print(json.dumps(tokens))
"""


def _bootstrap(url: str, annotators: int, repo: Path) -> dict[str, str]:
    """Schema and users, created by the code of the server under test (`repo`), in a subprocess."""
    import json

    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", _BOOTSTRAP, url, str(annotators), SECRET], cwd=repo, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _start_server(url: str, data_dir: Path, args: argparse.Namespace, repo: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "PARTVERSE_SECRET_KEY": SECRET, "PYTHONPATH": str(repo),
           "PARTVERSE_SQLITE_SYNCHRONOUS": args.sqlite_synchronous}
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115
    workers = ["--workers", str(args.workers)] if args.workers > 1 else []
    proc = subprocess.Popen([sys.executable, "-m", "partverse", "serve", "--db", url, "--data-dir", str(data_dir),
                             "--port", str(port), *workers], cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start; see {data_dir / 'server.log'}")


def _seed(base: str, token: str, tasks: int, faces: int) -> None:
    from annotation_ui.client import Client

    admin = Client(base, token, timeout=600)
    admin.ensure_project("bench")
    sha = admin.upload(np.random.default_rng(0).bytes(4096))
    labels = pack((np.arange(faces) // max(faces // 40, 1)).astype(np.int32))  # 40 segments
    for start in range(0, tasks, 200):
        batch = [{"uid": f"obj{i:06d}", "mesh_sha256": sha, "labels": labels}
                 for i in range(start, min(tasks, start + 200))]
        admin.add_tasks("bench", batch)
    admin.close()


class Recorder:
    """Latencies per call name, errors, and (task, revision, sha256 of the labels) of each 2xx submit."""

    def __init__(self, think_mean: float, seed: int = 0) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.acked: list[tuple[int, int, bytes]] = []
        self.think_mean = think_mean

    async def call(self, http, rng, name: str, method: str, path: str, ok=(200, 201), **kw):  # noqa: ANN001, ANN201
        """One timed request; returns (status, parsed JSON body or None), or None on an error."""
        import orjson

        if self.think_mean:
            await asyncio.sleep(rng.exponential(self.think_mean))
        import aiohttp

        t0 = time.perf_counter()
        try:
            async with http.request(method, path, **kw) as r:
                body = await r.read()
                status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # counted, never fatal to the run
            self.latency[name].append(time.perf_counter() - t0)
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        self.latency[name].append(time.perf_counter() - t0)
        if status not in ok:
            self.errors.append(f"{name}: HTTP {status} {body[:200]!r}")
            return None
        return status, (orjson.loads(body) if body else None)


def _edits(labels: np.ndarray, segs: np.ndarray, rng, seed: int) -> list[tuple]:  # noqa: ANN001
    return [
        ("merge", "POST", "ops/merge", {"segments": rng.choice(segs, 2, replace=False).tolist()}),
        ("split", "POST", "ops/split", {"faces": rng.integers(0, labels.size, 2000).tolist(), "name": "piece"}),
        ("rename", "POST", "ops/rename", {"segment": int(segs[0]), "name": f"part{seed}"}),
        ("draft", "PUT", "draft", {"labels": pack(np.roll(labels, 1)), "part_names": {}}),
        ("rename", "POST", "ops/rename", {"segment": int(segs[0]), "name": "body"}),
    ]


async def _annotator(base: str, token: str, rec: Recorder, stop_at: float, seed: int) -> None:
    import aiohttp
    import orjson

    rng = np.random.default_rng(seed)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=1)  # one connection per annotator, like one Blender session
    async with aiohttp.ClientSession(base + "/api/v1/", headers=headers, connector=connector,
                                     json_serialize=lambda o: orjson.dumps(o).decode(),
                                     timeout=aiohttp.ClientTimeout(total=120)) as http:
        while time.monotonic() < stop_at:
            got = await rec.call(http, rng, "claim", "POST", "projects/bench/claim", ok=(200, 204))
            if got is None or got[0] == 204:
                return
            tid = got[1]["task"]["id"]
            got = await rec.call(http, rng, "get", "GET", f"tasks/{tid}")
            if got is None:
                continue
            task = got[1]
            labels, rev = unpack(task["labels"]), task["revision"]
            segments = np.flatnonzero(np.bincount(labels))  # O(F), no sort: the client stays cheap
            for name, method, path, body in _edits(labels, segments, rng, seed):
                got = await rec.call(http, rng, name, method, f"tasks/{tid}/{path}", json=body,
                                     headers={"If-Match": f'"{rev}"'})
                if got is None:
                    break
                rev = got[1]["revision"]
            else:
                got = await rec.call(http, rng, "submit", "POST", f"tasks/{tid}/submit",
                                     headers={"If-Match": f'"{rev}"'})
                if got is not None:
                    rec.acked.append((tid, got[1]["revision"], _digest(got[1]["labels"])))


def _digest(packed: dict) -> bytes:
    """sha256 of the decoded labels (two encodings of the same labels are the same write)."""
    return hashlib.sha256(unpack(packed).tobytes()).digest()


async def _round_trip(base: str, n: int = 200) -> list[float]:
    import aiohttp

    out = []
    async with aiohttp.ClientSession(base) as http:
        for _ in range(n):
            t0 = time.perf_counter()
            async with http.get("/api/v1/health") as r:
                await r.read()
            out.append(time.perf_counter() - t0)
    return out


async def _lost_writes(base: str, token: str, acked: list[tuple[int, int, bytes]]) -> int:
    """Acknowledged submits not found intact: wrong status, revision, labels, or revision history length."""
    import aiohttp
    import orjson

    lost = 0
    sem = asyncio.Semaphore(8)

    async def check(http, tid: int, revision: int, digest: bytes) -> None:  # noqa: ANN001
        nonlocal lost
        async with sem:
            async with http.get(f"tasks/{tid}") as r:
                task = orjson.loads(await r.read())
            async with http.get(f"tasks/{tid}/revisions") as r:
                history = orjson.loads(await r.read())
        same = _digest(task["labels"]) == digest
        if task["status"] != "submitted" or task["revision"] != revision or not same or len(history) != revision:
            lost += 1

    async with aiohttp.ClientSession(base + "/api/v1/", headers={"Authorization": f"Bearer {token}"},
                                     timeout=aiohttp.ClientTimeout(total=600)) as http:
        await asyncio.gather(*[check(http, *a) for a in acked])
    return lost


def run(kind: str, mode: str, args: argparse.Namespace, pg=None, repo: Path = REPO) -> dict:  # noqa: ANN001
    data_dir = Path(tempfile.mkdtemp(prefix=f"partverse-bench-{kind}-"))
    url = pg.new_database() if kind == "postgres" else f"sqlite:///{data_dir / 'annotations.sqlite3'}"
    tokens = _bootstrap(url, args.annotators, repo)
    proc, base = _start_server(url, data_dir, args, repo)
    try:
        _seed(base, tokens["lead"], args.tasks, args.faces)
        rtt = asyncio.run(_round_trip(base))
        rec = Recorder(args.think_mean_s if mode == "think" else 0.0)
        load0, cpu0 = os.getloadavg()[0], _cpu_seconds(proc.pid)
        t0 = time.monotonic()
        stop_at = t0 + args.duration

        async def everyone() -> None:
            await asyncio.gather(*[_annotator(base, tokens[f"a{i:03d}"], rec, stop_at, i)
                                   for i in range(args.annotators)])

        asyncio.run(everyone())
        elapsed = time.monotonic() - t0
        cpu = _cpu_seconds(proc.pid) - cpu0
        lost = asyncio.run(_lost_writes(base, tokens["lead"], rec.acked))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"rec": rec, "elapsed": elapsed, "lost": lost, "rtt": rtt, "load": (load0, os.getloadavg()[0]),
            "cpu": cpu}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its workers: cost per call, whatever the load."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q) * 1000) if values else float("nan")


def report(kind: str, mode: str, res: dict, think_mean: float, server: str = "") -> dict[str, tuple[float, float]]:
    rec, rtt50 = res["rec"], _pct(res["rtt"], 50)
    label = "closed loop, no think time" if mode == "closed" else f"think time exponential, mean {think_mean:g} s"
    print(f"\n== {server}{kind}, {label}: {len(rec.acked)} submits in {res['elapsed']:.1f} s = "
          f"{len(rec.acked) / res['elapsed']:.2f} tasks/s, "
          f"{sum(len(v) for v in rec.latency.values()) / res['elapsed']:.1f} calls/s; "
          f"errors {len(rec.errors)}, lost writes {res['lost']}; load average {res['load'][0]:.1f} -> "
          f"{res['load'][1]:.1f}")
    calls = sum(len(v) for v in rec.latency.values())
    print(f"   baseline GET /health round trip p50 {rtt50:.2f} ms; server CPU {1000 * res['cpu'] / max(calls, 1):.1f} ms "
          f"per call, {1000 * res['cpu'] / max(len(rec.acked), 1):.0f} ms per task")
    print(f"   {'call':8s} {'n':>6s} {'p50 ms':>9s} {'p99 ms':>9s} {'p50/rtt':>8s}")
    out = {"throughput": (len(rec.acked) / res["elapsed"], 0.0), "cpu": (res["cpu"] / max(calls, 1), 0.0)}
    for name in CALLS:
        vals = rec.latency.get(name, [])
        p50, p99 = _pct(vals, 50), _pct(vals, 99)
        out[name] = (p50, p99)
        print(f"   {name:8s} {len(vals):6d} {p50:9.1f} {p99:9.1f} {p50 / rtt50:8.1f}")
    writes = [v for n in ("merge", "split", "rename", "draft", "submit") for v in rec.latency.get(n, [])]
    worst = max(out[n][1] for n in ("merge", "split", "rename", "draft", "submit"))
    out["worst"] = (worst, worst)
    verdict = "MET" if worst < 100 and not rec.errors and res["lost"] == 0 and writes else "NOT MET"
    print(f"   target p99 < 100 ms for edits and submits, 0 errors, 0 lost writes: {verdict} "
          f"(worst edit/submit p99 {worst:.1f} ms)")
    for e in rec.errors[:5]:
        print("   error:", e)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--annotators", type=int, default=64)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load per database and mode")
    ap.add_argument("--faces", type=int, default=200_000)
    ap.add_argument("--tasks", type=int, default=3000, help="queue size (must outlast the run)")
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--mode", choices=["closed", "think", "both"], default="both")
    ap.add_argument("--think-mean-s", type=float, default=1.0,
                    help="think mode: mean of the exponential pause before each call")
    ap.add_argument("--workers", type=int, default=1, help="server processes (partverse serve --workers)")
    ap.add_argument("--sqlite-synchronous", default="FULL", choices=["FULL", "NORMAL"])
    ap.add_argument("--baseline-repo", type=Path, default=None,
                    help="also run every setting against a server from this checkout (e.g. `git archive main`) "
                         "and print this server's ratios to it, measured under the same machine load")
    args = ap.parse_args()
    print(f"{args.annotators} annotators, {args.duration:.0f} s, {args.faces} faces per object, "
          f"{args.workers} server worker(s), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    modes = ["closed", "think"] if args.mode == "both" else [args.mode]
    pg, results = None, {}
    try:
        if "postgres" in kinds:
            from annotation_ui.pgcluster import ThrowawayPostgres

            pg = ThrowawayPostgres().start()
        for mode in modes:
            for kind in kinds:
                results[kind, mode] = report(kind, mode, run(kind, mode, args, pg), args.think_mean_s)
                if args.baseline_repo is not None:
                    base = report(kind, mode, run(kind, mode, args, pg, args.baseline_repo.resolve()),
                                  args.think_mean_s, server="baseline server, ")
                    _ratios(f"{kind}, {mode}: this server / baseline server", results[kind, mode], base)
    finally:
        if pg is not None:
            pg.stop()
    for mode in modes:
        if ("sqlite", mode) in results and ("postgres", mode) in results:
            _ratios(f"{mode}: PostgreSQL / SQLite", results["postgres", mode], results["sqlite", mode])


def _ratios(title: str, top: dict, bottom: dict) -> None:
    print(f"\n   {title} (p50, p99 latency; tasks/s):")
    for name in CALLS:
        (a50, a99), (b50, b99) = top[name], bottom[name]
        print(f"   {name:8s} {a50 / b50:6.2f} {a99 / b99:6.2f}")
    print(f"   {'tasks/s':8s} {top['throughput'][0] / bottom['throughput'][0]:6.2f}")
    print(f"   {'CPU/call':8s} {top['cpu'][0] / bottom['cpu'][0]:6.2f}   (server CPU seconds per call)")


if __name__ == "__main__":
    main()
