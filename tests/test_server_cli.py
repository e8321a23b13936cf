"""`partverse users`, `serve`, `annotate push|pull` end to end on a release built from a real asset."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from annotation_ui.client import Client, unpack
from partverse.data.annotations import load_annotation
from tests.server_support import REPO, SECRET, LiveServer, truck_object, write_release

pytestmark = pytest.mark.multiprocess


def _cli(*args: str, env: dict[str, str]):  # noqa: ANN202
    """Run `partverse ARGS` in process (Typer's runner); .returncode, .stdout and .stderr like a subprocess."""
    from typer.testing import CliRunner

    from partverse import cli

    if not any(getattr(g, "name", None) == "annotate" for g in cli.app.registered_groups):
        cli._register_all()
    result = CliRunner().invoke(cli.app, list(args), env=env)
    result.returncode = result.exit_code
    return result


def _subprocess_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "partverse", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_push_annotate_review_pull_roundtrip(tmp_path) -> None:  # noqa: ANN001
    glb, labels = truck_object()
    write_release(tmp_path / "run", [("truck-a", glb, labels), ("truck-b", glb, labels[::-1].copy()),
                                     ("broken", glb, np.full(labels.size, -1, np.int32))])
    data = tmp_path / "server"
    env = {**os.environ, "PARTVERSE_SECRET_KEY": SECRET, "PARTVERSE_DATA_DIR": str(data)}
    tokens = {}
    for name, role in (("lead", "admin"), ("ann", "annotator"), ("rev", "reviewer")):
        out = _cli("users", "add", name, "--role", role, env=env)
        assert out.returncode == 0, out.stderr
        tokens[name] = out.stdout.strip()
    assert _cli("users", "add", "ann", env=env).returncode == 1  # already exists, says so
    again = _cli("users", "token", "ann", env=env)
    assert again.returncode == 0 and again.stdout.strip() != tokens["ann"]

    server = LiveServer(f"sqlite:///{data / 'annotations.sqlite3'}", data).start()
    try:
        env["PARTVERSE_SERVER"] = server.base
        push = _cli("annotate", "push", "--run", str(tmp_path / "run"), "--project", "trucks", "--token",
                    tokens["lead"], env=env)
        assert push.returncode == 0, push.stderr
        assert "2 tasks created" in push.stdout and "1 refused" in push.stdout
        assert "broken" in push.stderr and "negative label" in push.stderr
        repush = _cli("annotate", "push", "--run", str(tmp_path / "run"), "--project", "trucks", "--token",
                      tokens["lead"], env=env)
        assert "0 tasks created, 2 already there" in repush.stdout

        ann, rev = Client(server.base, again.stdout.strip()), Client(server.base, tokens["rev"])
        claim = ann.claim("trucks")["task"]
        assert ann.call("GET", claim["mesh_url"].removeprefix("/api/v1")).content == glb
        assert unpack(claim["labels"]).tolist() == (labels if claim["uid"] == "truck-a" else labels[::-1]).tolist()
        t = ann.op(claim["id"], claim["revision"], "merge", segments=[0, 1])
        t = ann.op(claim["id"], t["revision"], "rename", segment=0, name="chassis")
        t = ann.submit(claim["id"], t["revision"])
        rev.review(claim["id"], t["revision"], "accept")

        out = tmp_path / "human"
        pull = _cli("annotate", "pull", "--project", "trucks", "--out", str(out), "--token", tokens["rev"], env=env)
        assert pull.returncode == 0 and "1 accepted annotations" in pull.stdout, pull.stderr
        ann_file = load_annotation(out, claim["uid"])
        assert ann_file.status == "accepted" and ann_file.author == "ann" and ann_file.part_names == {0: "chassis"}
        assert ann_file.revision == t["revision"]
        assert np.array_equal(ann_file.face_labels, unpack(t["labels"]))
        assert load_annotation(out, "truck-b" if claim["uid"] == "truck-a" else "truck-a") is None
    finally:
        server.stop()


def test_serve_refuses_default_secret_in_production(tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k != "PARTVERSE_SECRET_KEY"}
    out = _subprocess_cli("serve", "--data-dir", str(tmp_path), env={**env, "PARTVERSE_ENVIRONMENT": "production"})
    assert out.returncode != 0 and "secret_key" in out.stderr
