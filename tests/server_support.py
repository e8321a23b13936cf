"""Helpers for the annotation-server tests: real databases, a real uvicorn process, real data.

`postgres_url()` starts one throwaway PostgreSQL cluster per test session (initdb + pg_ctl in a
temp dir on a free port; as the `postgres` user when running as root) and hands out a fresh
database per call; it skips when the binaries are absent (CI installs them).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SECRET = "test-secret-key-0123456789abcdef-0123456789"
_PG: dict[str, object] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_url() -> str:
    """URL of a new, empty database on the session's throwaway PostgreSQL cluster (started on first use)."""
    from annotation_ui.pgcluster import ThrowawayPostgres, bindir

    if "cluster" not in _PG:
        if bindir() is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL binaries not found in CI (.ci/setup --services installs them)")
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        _PG["cluster"] = ThrowawayPostgres().start()
        atexit.register(_PG["cluster"].stop)
    return _PG["cluster"].new_database()


def db_url(kind: str, tmp_path: Path) -> str:
    return postgres_url() if kind == "postgres" else f"sqlite:///{tmp_path / 'annotations.sqlite3'}"


DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# test data
def truck_object() -> tuple[bytes, np.ndarray]:
    """The real Kenney truck as GLB bytes and its per-geometry labels, (F,) int32 in concatenation order."""
    import trimesh

    from tests.conftest import shared

    path = shared("assets", "kenney_truck_green.glb")
    scene = trimesh.load(path, force="scene")
    labels = np.concatenate([np.full(len(g.faces), i, np.int32) for i, g in enumerate(scene.geometry.values())])
    return path.read_bytes(), labels


def write_release(run_dir: Path, objects: list[tuple[str, bytes, np.ndarray]]) -> Path:
    """RUN_DIR/release/objects-00000.parquet with the `objects` schema on main."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from partverse.data.schema import objects_schema

    schema = objects_schema()
    rows = {f.name: [] for f in schema}
    for uid, glb, labels in objects:
        row = dict(uid=uid, sha256="0" * 64, source="local", source_uri=f"file://{uid}.glb", license="CC0",
                   metadata_json="{}", num_faces=int(labels.size), num_vertices=0,
                   num_parts=int(np.unique(labels).size), label_source="auto", segmentation_method="artist",
                   segmentation_params_json="{}", face_labels=labels.tolist(),
                   transform=np.eye(4).ravel().tolist(), normalized_glb=glb)
        for k, v in row.items():
            rows[k].append(v)
    out = run_dir / "release" / "objects-00000.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows, schema=schema), out)
    return out


# in-process app
def make_app(url: str, data_dir: Path, **settings: object):  # noqa: ANN201
    from annotation_ui.app import create_app
    from annotation_ui.settings import Settings

    return create_app(Settings(db_url=url, data_dir=data_dir, secret_key=SECRET, **settings))


def add_user(app, name: str, role: str) -> str:  # noqa: ANN001
    """Create a user in the app's database and return a token for it."""
    from annotation_ui.services import accounts

    with app.state.sessionmaker() as session:
        accounts.add_user(session, name, role)
        return accounts.issue_token(session, name, SECRET)


def seed_tasks(admin, project: str, n: int, num_faces: int = 64, seed: int = 0) -> list[int]:  # noqa: ANN001
    """Create project + n tasks (random mesh bytes, labels = face // 8) with an admin `Client`."""
    from annotation_ui.client import pack

    rng = np.random.default_rng(seed)
    admin.ensure_project(project)
    sha = admin.upload(rng.bytes(256))
    labels = (np.arange(num_faces) // 8).astype(np.int32)
    tasks = [{"uid": f"obj{i:05d}", "mesh_sha256": sha, "labels": pack(labels)} for i in range(n)]
    return admin.add_tasks(project, tasks)["created"]


# a real server process
class LiveServer:
    def __init__(self, url: str, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1):
        self.db, self.data_dir, self.port, self.workers = url, data_dir, free_port(), workers
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PARTVERSE_SECRET_KEY": SECRET, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        import httpx

        cmd = [sys.executable, "-m", "partverse", "serve", "--db", self.db, "--data-dir", str(self.data_dir),
               "--port", str(self.port), "--workers", str(self.workers)]
        self.logfile = open(self.data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: "
                                   f"{(self.data_dir / f'server-{self.port}.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("server did not come up in 60 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.logfile.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()


def bootstrap(url: str, users: dict[str, str]) -> dict[str, str]:
    """Create the schema and users {name: role} directly in the database; returns {name: token}."""
    from annotation_ui import db
    from annotation_ui.services import accounts

    engine = db.make_engine(url, pool_size=2)
    db.upgrade(engine)
    tokens = {}
    with db.make_sessionmaker(engine)() as session:
        for name, role in users.items():
            accounts.add_user(session, name, role)
            tokens[name] = accounts.issue_token(session, name, SECRET)
    engine.dispose()
    return tokens


@contextlib.contextmanager
def running_server(url: str, data_dir: Path, users: dict[str, str], workers: int = 1):  # noqa: ANN201
    tokens = bootstrap(url, users)
    server = LiveServer(url, data_dir, workers=workers).start()
    try:
        yield server, tokens
    finally:
        server.stop()
