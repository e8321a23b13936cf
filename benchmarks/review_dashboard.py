"""Review page server side, each figure against a baseline measured in the same run.

    python benchmarks/review_dashboard.py [--faces 1000000] [--parts 40]

1. Per-face agreement of two labelings (partverse: bincount contingency + Hungarian matching) vs a
   scipy.sparse coo contingency followed by a greedy largest-overlap-first matching.
2. Viewer geometry request: first request (GLB load through partverse.io.load) vs cached repeats,
   for the largest shared asset, through the real FastAPI app (in process).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _greedy_sparse(a: np.ndarray, b: np.ndarray) -> float:
    import scipy.sparse as sp

    m = sp.coo_matrix((np.ones(a.size), (a, b))).tocsr().toarray()
    used_r, used_c, total = set(), set(), 0.0
    for flat in np.argsort(m, axis=None)[::-1]:
        r, c = divmod(int(flat), m.shape[1])
        if m[r, c] == 0:
            break
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            total += m[r, c]
    return total / a.size


def agreement(faces: int, parts: int) -> None:
    from annotation_ui.services.agreement import face_agreement

    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, parts, faces))
    b = rng.permutation(parts)[a]
    noisy = rng.random(faces) < 0.1
    b[noisy] = rng.integers(0, parts, int(noisy.sum()))
    ours = _best(lambda: face_agreement(a, b))
    base = _best(lambda: _greedy_sparse(a, b))
    print(f"agreement {faces} faces {parts} parts: {ours * 1e3:.1f} ms vs sparse+greedy {base * 1e3:.1f} ms "
          f"(ratio {base / ours:.2f}x); agreement {face_agreement(a, b)['agreement']:.3f} vs greedy {_greedy_sparse(a, b):.3f}")


def geometry(asset: Path) -> None:
    from fastapi.testclient import TestClient

    from annotation_ui.client import Client, pack
    from partverse.io import load
    from tests.server_support import add_user, make_app

    mesh = load(asset)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(f"sqlite:///{tmp}/db.sqlite3", Path(tmp))
        token = add_user(app, "root", "admin")
        c = Client("", None, http=TestClient(app, base_url="http://testserver/api/v1",
                                             headers={"Authorization": f"Bearer {token}"}))
        c.ensure_project("b")
        sha = c.upload(asset.read_bytes())
        (tid,) = c.add_tasks("b", [{"uid": "x", "mesh_sha256": sha, "labels": pack(mesh.face_artist_part)}])["created"]
        t = time.perf_counter()
        c.call("GET", f"/review/tasks/{tid}/geometry")
        first = time.perf_counter() - t
        cached = _best(lambda: c.call("GET", f"/review/tasks/{tid}/geometry"), 5)
        print(f"geometry {asset.name} ({mesh.num_faces} faces): first {first * 1e3:.0f} ms, cached {cached * 1e3:.1f} ms "
              f"(ratio {first / cached:.1f}x)")


def main() -> None:
    from tests.conftest import SHARED_DATA

    p = argparse.ArgumentParser()
    p.add_argument("--faces", type=int, default=1_000_000)
    p.add_argument("--parts", type=int, default=40)
    p.add_argument("--asset", type=Path, default=None)
    args = p.parse_args()
    agreement(args.faces, args.parts)
    assets = sorted((SHARED_DATA / "assets").glob("*.glb"), key=lambda q: q.stat().st_size)
    geometry(args.asset or assets[-1])


if __name__ == "__main__":
    main()
