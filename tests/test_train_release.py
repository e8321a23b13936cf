"""The trainer reads a real release (written by partverse.data from shared assets) through PartDataset."""
from __future__ import annotations

import json

import numpy as np
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
