"""The trainer reads a real release (written by partverse.data from shared assets) through PartDataset."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from partverse.train import checkpoint
from partverse.train.config import DataConfig
from partverse.train.data import load_objects
from tests._data_release import asset_rows, write_run
from tests.train_helpers import TINY_VAE


def test_train_vae_from_release(tmp_path):
    write_run(tmp_path, asset_rows(512, ("kenney_motorcycle.glb", "quat_bed_bunk.glb")))
    release = tmp_path / "release"
    objects = load_objects(DataConfig(source="release", path=str(release), num_objects=8))
    assert [o.uid for o in objects] == ["kenney_motorcycle", "quat_bed_bunk"]
    assert [len(o.parts) for o in objects] == [4, 4]
    for obj in objects:
        lo = np.min([p.bbox_min for p in obj.parts], axis=0)
        hi = np.max([p.bbox_max for p in obj.parts], axis=0)
        assert np.isclose(np.max(hi - lo), 1.9, atol=1e-3)  # normalised to [-0.95, 0.95]
        for part in obj.parts:  # the part GLB and the surface samples share one frame
            dist = trimesh.Trimesh(part.vertices, part.faces).nearest.on_surface(part.points[:64])[1]
            assert dist.max() < 1e-3

    from partverse.cli import _register_all, app

    _register_all()
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "vae", f"out_dir={out}", "steps=3", "data.source=release",
                                   f"data.path={release}", "batch_size=2", *TINY_VAE])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["step"] == 2
    assert checkpoint.latest(out).name == "step_00000003"
    bad = CliRunner().invoke(app, ["train", "vae", f"out_dir={out}", "data.source=release"])
    assert bad.exit_code == 2 and "data.path" in bad.output


def test_a_part_without_surface_is_left_out_with_a_warning(tmp_path, caplog):
    """o3dv_car's body holds 12 faces collapsed to one point: the pipeline releases them as a part of
    their own (zero area: corner samples, zero normals); training on that release leaves it out."""
    import logging

    from pipelines.config import default_config
    from pipelines.run import run_build
    from tests.conftest import shared

    cfg = default_config([str(shared("assets", "o3dv_car.glb"))], str(tmp_path / "build"))
    run_build(cfg.model_copy(update={"progress": False}))
    release = tmp_path / "build" / "release"
    from partverse.data.reader import read_release_table

    parts = read_release_table(release, "parts", ["part_id", "name", "normals"]).to_pylist()
    flat = [p["name"] for p in parts if not np.any(np.frombuffer(p["normals"], "<f4"))]
    assert len(flat) == 1  # the collapsed piece
    with caplog.at_level(logging.WARNING, logger="partverse.train.data"):
        objects = load_objects(DataConfig(source="release", path=str(release)))
    assert [p.name for p in objects[0].parts] == [p["name"] for p in parts if p["name"] not in flat]
    assert f"part {flat[0]}: no surface (zero area, 12 faces): left out" in caplog.text

    from partverse.cli import _register_all, app

    _register_all()
    res = CliRunner().invoke(app, ["train", "vae", f"out_dir={tmp_path / 'vae'}", "steps=2", "data.source=release",
                                   f"data.path={release}", "batch_size=2", *TINY_VAE])
    assert res.exit_code == 0, res.output  # it used to end in "ValueError: mesh with 12 faces has zero surface area"


def test_asset_geometries_without_surface_are_left_out(tmp_path):
    from partverse.errors import PartverseError
    from partverse.train.data import object_from_file

    box = trimesh.creation.box()
    point = trimesh.Trimesh(np.zeros((3, 3)), [[0, 1, 2]], process=False)  # one triangle, three equal corners
    trimesh.Scene({"box": box, "point": point}).export(tmp_path / "two.glb")
    obj = object_from_file(tmp_path / "two.glb", max_parts=8)
    assert len(obj.parts) == 1 and len(obj.parts[0].faces) == 12
    trimesh.Scene({"point": point}).export(tmp_path / "flat.glb")
    with pytest.raises(PartverseError, match="flat.glb: no geometry has a surface"):
        object_from_file(tmp_path / "flat.glb", max_parts=8)
