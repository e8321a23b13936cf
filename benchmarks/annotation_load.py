"""Load test of the annotation server: N simulated annotators doing claim -> get -> 5 edits -> submit.

Each annotator is an asyncio task with its own HTTP connection to a real `partverse serve` process
on 127.0.0.1. Edits are the server-side operations an annotator uses (merge, split, rename, a full
draft save, reject-free rename) on objects of --faces faces. After the run every acknowledged
submit is checked (status, revision, labels digest, revision count): lost writes are counted.
Latencies are printed per call as p50 / p99, with ratios to the plain HTTP round trip
(GET /health, measured in the same run) and PostgreSQL / SQLite.

    python benchmarks/annotation_load.py --duration 60            # the issue's setting
    python benchmarks/annotation_load.py --duration 15 --db sqlite
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
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
SYNCHRONOUS = ["FULL"]  # the server's default; --sqlite-synchronous NORMAL trades power-loss durability for speed

from annotation_ui.client import pack, unpack  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bootstrap(url: str, annotators: int) -> dict[str, str]:
    from annotation_ui import db
    from annotation_ui.services import accounts

    engine = db.make_engine(url, pool_size=2)
    db.upgrade(engine)
    tokens = {}
    with db.make_sessionmaker(engine)() as session:
        for name, role in [("lead", "admin"), *[(f"a{i:03d}", "annotator") for i in range(annotators)]]:
            accounts.add_user(session, name, role)
            tokens[name] = accounts.issue_token(session, name, SECRET)
    engine.dispose()
    return tokens


def _start_server(url: str, data_dir: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "PARTVERSE_SECRET_KEY": SECRET, "PYTHONPATH": str(REPO),
           "PARTVERSE_SQLITE_SYNCHRONOUS": SYNCHRONOUS[0]}
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "partverse", "serve", "--db", url, "--data-dir", str(data_dir),
                             "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
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

    admin = Client(base, token, timeout=300)
    admin.ensure_project("bench")
    sha = admin.upload(np.random.default_rng(0).bytes(4096))
    labels = pack((np.arange(faces) // max(faces // 40, 1)).astype(np.int32))  # 40 segments
    for start in range(0, tasks, 200):
        batch = [{"uid": f"obj{i:06d}", "mesh_sha256": sha, "labels": labels}
                 for i in range(start, min(tasks, start + 200))]
        admin.add_tasks("bench", batch)
    admin.close()


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.acked: list[tuple[int, int, str]] = []  # (task, revision, labels digest) of 2xx submits

    async def call(self, http, name: str, method: str, path: str, ok=(200, 201), **kw):  # noqa: ANN001, ANN201
        t0 = time.perf_counter()
        r = await http.request(method, path, **kw)
        self.latency[name].append(time.perf_counter() - t0)
        if r.status_code not in ok:
            self.errors.append(f"{name}: HTTP {r.status_code} {r.text[:200]}")
            return None
        return r


async def _annotator(base: str, token: str, rec: Recorder, stop_at: float, seed: int) -> None:
    import httpx

    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as http:
        while time.monotonic() < stop_at:
            r = await rec.call(http, "claim", "POST", "/projects/bench/claim", ok=(200, 204))
            if r is None or r.status_code == 204:
                return
            tid = r.json()["task"]["id"]
            r = await rec.call(http, "get", "GET", f"/tasks/{tid}")
            if r is None:
                continue
            task = r.json()
            labels = unpack(task["labels"])
            rev = task["revision"]
            segs = np.unique(labels)
            edits = [
                ("merge", "POST", "ops/merge", {"json": {"segments": rng.choice(segs, 2, replace=False).tolist()}}),
                ("split", "POST", "ops/split", {"json": {"faces": rng.choice(labels.size, 2000, replace=False).tolist(),
                                                         "name": "piece"}}),
                ("rename", "POST", "ops/rename", {"json": {"segment": int(segs[0]), "name": f"part{seed}"}}),
                ("draft", "PUT", "draft", {"json": {"labels": pack(np.roll(labels, 1)), "part_names": {}}}),
                ("rename", "POST", "ops/rename", {"json": {"segment": int(segs[0]), "name": "body"}}),
            ]
            for name, method, path, kw in edits:
                r = await rec.call(http, name, method, f"/tasks/{tid}/{path}", headers={"If-Match": f'"{rev}"'}, **kw)
                if r is None:
                    break
                rev = r.json()["revision"]
            else:
                r = await rec.call(http, "submit", "POST", f"/tasks/{tid}/submit", headers={"If-Match": f'"{rev}"'})
                if r is not None:
                    body = r.json()
                    rec.acked.append((tid, body["revision"], body["labels"]["data"]))


async def _round_trip(base: str, n: int = 200) -> list[float]:
    import httpx

    out = []
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(n):
            t0 = time.perf_counter()
            await http.get("/api/v1/health")
            out.append(time.perf_counter() - t0)
    return out


def _lost_writes(base: str, token: str, acked: list[tuple[int, int, str]]) -> int:
    from annotation_ui.client import Client

    reader, lost = Client(base, token, timeout=120), 0
    for tid, revision, data in acked:
        task = reader.task(tid)
        history = reader.call("GET", f"/tasks/{tid}/revisions").json()
        same = hashlib.sha256(task["labels"]["data"].encode()).digest() == hashlib.sha256(data.encode()).digest()
        if task["status"] != "submitted" or task["revision"] != revision or not same or len(history) != revision:
            lost += 1
    reader.close()
    return lost


def run(kind: str, args: argparse.Namespace, pg=None) -> dict:  # noqa: ANN001
    data_dir = Path(tempfile.mkdtemp(prefix=f"partverse-bench-{kind}-"))
    url = pg.new_database() if kind == "postgres" else f"sqlite:///{data_dir / 'annotations.sqlite3'}"
    tokens = _bootstrap(url, args.annotators)
    proc, base = _start_server(url, data_dir)
    try:
        _seed(base, tokens["lead"], args.tasks, args.faces)
        rtt = asyncio.run(_round_trip(base))
        rec = Recorder()
        t0 = time.monotonic()
        stop_at = t0 + args.duration

        async def everyone() -> None:
            await asyncio.gather(*[_annotator(base, tokens[f"a{i:03d}"], rec, stop_at, i)
                                   for i in range(args.annotators)])

        asyncio.run(everyone())
        elapsed = time.monotonic() - t0
        lost = _lost_writes(base, tokens["lead"], rec.acked)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"rec": rec, "elapsed": elapsed, "lost": lost, "rtt": rtt}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q) * 1000) if values else float("nan")


def report(kind: str, res: dict) -> dict[str, tuple[float, float]]:
    rec, rtt50 = res["rec"], _pct(res["rtt"], 50)
    print(f"\n== {kind}: {len(rec.acked)} submits in {res['elapsed']:.1f} s = "
          f"{len(rec.acked) / res['elapsed']:.2f} tasks/s, "
          f"{sum(len(v) for v in rec.latency.values()) / res['elapsed']:.1f} calls/s; "
          f"errors {len(rec.errors)}, lost writes {res['lost']}")
    print(f"   baseline GET /health round trip p50 {rtt50:.2f} ms")
    print(f"   {'call':8s} {'n':>6s} {'p50 ms':>9s} {'p99 ms':>9s} {'p50/rtt':>8s}")
    out = {}
    for name in ("claim", "get", "merge", "split", "rename", "draft", "submit"):
        vals = rec.latency.get(name, [])
        p50, p99 = _pct(vals, 50), _pct(vals, 99)
        out[name] = (p50, p99)
        print(f"   {name:8s} {len(vals):6d} {p50:9.1f} {p99:9.1f} {p50 / rtt50:8.1f}")
    for e in rec.errors[:5]:
        print("   error:", e)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--annotators", type=int, default=64)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load per database")
    ap.add_argument("--faces", type=int, default=200_000)
    ap.add_argument("--tasks", type=int, default=3000, help="queue size (must outlast the run)")
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--sqlite-synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = ap.parse_args()
    SYNCHRONOUS[0] = args.sqlite_synchronous
    print(f"{args.annotators} annotators, {args.duration:.0f} s, {args.faces} faces per object, "
          f"{os.cpu_count()} CPUs")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    pg, results = None, {}
    try:
        if "postgres" in kinds:
            from annotation_ui.pgcluster import ThrowawayPostgres

            pg = ThrowawayPostgres().start()
        for kind in kinds:
            results[kind] = report(kind, run(kind, args, pg))
    finally:
        if pg is not None:
            pg.stop()
    if len(results) == 2:
        print("\n   PostgreSQL / SQLite latency ratio (p50, p99):")
        for name, (p50, p99) in results["sqlite"].items():
            q50, q99 = results["postgres"][name]
            print(f"   {name:8s} {q50 / p50:6.2f} {q99 / p99:6.2f}")


if __name__ == "__main__":
    main()
