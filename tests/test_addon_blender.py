"""The add-on inside bpy (one fresh process per scenario): installed from the built zip, driven
through its operators against a live annotation server; the server's stored labels are checked."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.addon_support import PROJECT, stored_labels, truck_server
from tests.server_support import REPO

pytestmark = pytest.mark.blender
DRIVER = Path(__file__).with_name("addon_bpy_driver.py")


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory) -> Path:
    pytest.importorskip("bpy")
    from partverse.cli.addon import build_addon

    return build_addon(tmp_path_factory.mktemp("dist"))


def _driver(tmp_path: Path, addon_zip: Path, server, token: str, scenario: str) -> subprocess.Popen:  # noqa: ANN001
    cfg = {"zip": str(addon_zip), "server": server.base, "token": token, "project": PROJECT,
           "drafts": str(tmp_path / "drafts") + "/", "scenario": scenario, "repo": str(REPO)}
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / f"blender-{scenario}")}
    return subprocess.Popen([sys.executable, str(DRIVER), json.dumps(cfg)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _results(proc: subprocess.Popen, until: str | None = None) -> dict:
    out, log = {}, []
    for line in proc.stdout:
        log.append(line)
        if line.startswith("RESULT "):
            item = json.loads(line[7:])
            out[item["step"]] = item
            if item["step"] == until:
                return out
    assert proc.wait() == 0, "".join(line[:300] for line in log[-40:])
    return out


def test_claim_edit_undo_submit_reject(tmp_path, addon_zip):
    with truck_server(tmp_path) as (server, tokens, admin, truck):
        r = _results(_driver(tmp_path, addon_zip, server, tokens["ann"], "full"))
        claimed = r["claimed"]
        assert claimed["labels"] == claimed["mesh_labels"] == truck.tolist()
        assert (claimed["attr_domain"], claimed["attr_type"]) == ("FACE", "INT")
        assert (claimed["color_domain"], claimed["color_type"]) == ("CORNER", "BYTE_COLOR")
        assert claimed["distinct_colors"] == len(np.unique(truck)) and claimed["shading"] == "VERTEX"
        ids, counts = np.unique(truck, return_counts=True)
        assert claimed["segments"] == [[int(i), "wheel front right" if i == 0 else "", int(c)] for i, c in zip(ids, counts)]
        assert r["renewed"]["after"] > r["renewed"]["before"], r["renewed"]
        assert r["clicked"]["selected"] == np.flatnonzero(truck == r["clicked"]["segment"]).tolist()
        mirrored = np.asarray(r["mirrored"]["selected"])
        assert mirrored.size and len(np.unique(truck[mirrored])) == 1 and truck[mirrored[0]] != 0

        # merge (faces touching segments 0 and 3) -> 3 joins 0; split 10 faces of the old 3 -> new id 6
        old3 = np.flatnonzero(truck == 3)
        edited = np.asarray(r["edited"]["labels"])
        assert r["edited"]["mesh_labels"] == r["edited"]["labels"]
        new = int(truck.max()) + 1
        assert set(np.unique(edited[old3]).tolist()) == {0, new} and (edited == new).sum() == 10
        rest = np.setdiff1d(np.arange(truck.size), old3)
        assert edited[rest].tolist() == truck[rest].tolist()  # segment 0 kept its faces, others untouched
        assert r["edited"]["names"] == {"0": "wheel and body", str(int(truck.max()) + 1): "bolt"}
        assert r["undone"]["names"]["0"] == "wheel front right" and r["undone"]["labels"] == r["edited"]["labels"]
        assert r["undone2"]["labels"] == r["undone2"]["mesh_labels"] and (np.asarray(r["undone2"]["labels"]) == new).sum() == 0
        assert r["redone"]["labels"] == r["edited"]["labels"] and r["redone"]["names"] == r["edited"]["names"]
        for step in ("claimed", "edited", "undone", "undone2", "redone"):  # colours follow the labels
            assert r[step]["colors_match"], step
        assert r["edited"]["mode"] == "EDIT"  # edits made in edit mode stay in edit mode

        stale = r["stale"]
        assert stale["level"] == "ERROR" and stale["stale"] and stale["open"] and "Reload" in stale["message"]
        assert not r["submitted"]["open"]
        got, names, detail = stored_labels(admin, r["edited"]["task"])
        assert detail["status"] == "submitted" and detail["verdict"] == "ok"
        assert got.tolist() == r["edited"]["labels"] and names == r["edited"]["names"]

        rejected = admin.task(_other_task(admin, r["edited"]["task"]))
        assert rejected["status"] == "submitted" and rejected["verdict"] == "rejected"
        assert rejected["reason"] == "broken geometry: holes in the cab" and r["rejected"]["task"] is None
        assert "No task left" in r["empty"]["message"]
        assert r["disabled"] == {"step": "disabled", "keymap_items": 0, "has_op": False, "timer": False}


def _other_task(admin, task_id: int) -> int:  # noqa: ANN001
    ids = [t["id"] for t in admin.call("GET", f"/projects/{PROJECT}/tasks").json()["items"]]
    return next(i for i in ids if i != task_id)


def test_draft_restored_after_kill_9(tmp_path, addon_zip):
    with truck_server(tmp_path, tasks=1) as (server, tokens, admin, truck):
        proc = _driver(tmp_path, addon_zip, server, tokens["ann"], "edit_then_hang")
        edited = _results(proc, until="edited")["edited"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert stored_labels(admin, edited["task"])[0].tolist() == truck.tolist()  # nothing reached the server
        r = _results(_driver(tmp_path, addon_zip, server, tokens["ann"], "restore_submit"))
        assert r["restored"]["restored"] and "Restored" in r["restored"]["message"]
        assert r["restored"]["labels"] == r["restored"]["mesh_labels"] == edited["labels"]
        got, names, detail = stored_labels(admin, edited["task"])
        assert detail["status"] == "submitted" and got.tolist() == edited["labels"] and names == edited["names"]
