"""`partverse build` as a user runs it: the README's main command on the bundled samples, the
summary table, and a config error naming the field."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from partverse.data.reader import read_manifest, read_release_table

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "pipelines" / "samples"
MESH_EXT = {".glb", ".gltf", ".obj", ".ply", ".off", ".stl", ".fbx"}


def _partverse(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "partverse", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_readme_command_builds_the_bundled_samples(tmp_path):
    if not SAMPLES.is_dir():
        pytest.fail(f"bundled samples missing at {SAMPLES}")
    meshes = [p for p in SAMPLES.rglob("*") if p.suffix.lower() in MESH_EXT]
    done = _partverse("build", "--config", "pipelines/configs/sample.yaml", "--out", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 0, done.stderr
    for words in ("ingest_local", "write_release", "released objects: ", "parts out: "):
        assert words in done.stdout
    manifest = read_manifest(tmp_path / "run" / "release")
    objects = read_release_table(tmp_path / "run" / "release", "objects", ["uid", "num_parts"]).to_pylist()
    assert len(objects) == len(meshes) == manifest["tables"]["objects"]["rows"]
    assert all(o["num_parts"] >= 1 for o in objects)
    captions = read_release_table(tmp_path / "run" / "release", "captions", ["uid", "part_id", "backend"]).to_pylist()
    assert {c["uid"] for c in captions if c["part_id"] == -1} == {o["uid"] for o in objects}  # one per object
    assert len(captions) == len(objects) + sum(o["num_parts"] for o in objects)  # and one per part
    assert {c["backend"] for c in captions} == {"metadata"}
    assert (tmp_path / "run" / "config.yaml").is_file()
    again = _partverse("build", "--config", "pipelines/configs/sample.yaml", "--out", str(tmp_path / "run"), "--no-progress")
    assert again.returncode == 0 and "write_release" in again.stdout


def test_bad_config_exits_2_naming_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_dir: x\nexecutor: dask\nstages: []\n")
    done = _partverse("build", "--config", str(bad), timeout=120)
    assert done.returncode == 2
    assert "executor" in done.stderr and "'local'" in done.stderr and "'ray'" in done.stderr
    missing = _partverse("build", timeout=120)
    assert missing.returncode == 2 and "--config" in missing.stderr


def test_input_takes_several_files_after_one_flag(tmp_path):
    files = [SAMPLES / "kenney_truck_green.glb", SAMPLES / "o3dv_car.glb"]  # as `-i samples/*.glb` expands
    done = _partverse("build", "-i", *map(str, files), "--out", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 0, done.stderr
    objects = read_release_table(tmp_path / "run" / "release", "objects", ["uid", "num_parts"]).to_pylist()
    assert len(objects) == 2 and all(o["num_parts"] >= 1 for o in objects)


def test_the_saved_config_rebuilds_the_run_from_any_folder(tmp_path):
    import json
    import os
    import shutil

    (tmp_path / "in").mkdir()
    for name in ("kenney_truck_green.glb", "o3dv_car.glb"):
        shutil.copy(SAMPLES / name, tmp_path / "in" / name)
    (tmp_path / "build.yaml").write_text(  # every path relative to the folder the build runs from
        "run_dir: run\nstages:\n  - {name: ingest_local, params: {paths: [in]}}\n  - {name: prepare}\n"
        "  - {name: segment}\n  - {name: annotation, params: {annotations_dir: annotations}}\n"
        "  - {name: export_parts, params: {num_samples: 256}}\n  - {name: write_release}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def build(config, cwd):
        done = subprocess.run([sys.executable, "-m", "partverse", "build", "--config", str(config), "--no-progress"],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads((tmp_path / "run" / "run.json").read_text())["stages"]

    assert build("build.yaml", tmp_path)["prepare"]["ran"] == 2
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert f"- {tmp_path / 'in'}" in saved and f"annotations_dir: {tmp_path / 'annotations'}" in saved
    (tmp_path / "elsewhere").mkdir()
    again = build(tmp_path / "run" / "config.yaml", tmp_path / "elsewhere")
    assert all(again[s]["ran"] == 0 and again[s]["cached"] == 2 for s in ("prepare", "segment", "annotation", "export_parts"))
    # `partverse caption` on a build run says how to caption it again (the build's renders are stage outputs)
    caption = subprocess.run([sys.executable, "-m", "partverse", "caption", "--run", str(tmp_path / "run")], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert caption.returncode == 2 and "a `partverse build` run" in caption.stderr
    assert str(tmp_path / "run" / "config.yaml") in caption.stderr
