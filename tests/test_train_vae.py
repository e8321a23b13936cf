"""The part VAE overfits 4 real parts (Kenney motorcycle, split per geometry): IoU on the 64^3 grid
rises from ~0 at initialisation; and `partverse evaluate` scores a VAE checkpoint."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from partverse.train.config import load_config
from partverse.train.data import load_objects
from partverse.train.latents import encode_points
from partverse.train.loop import train
from partverse.train.mesh import decode_grid
from partverse.train.metrics import iou, mesh_occupancy_grid
from tests.conftest import shared
from tests.train_helpers import OVERFIT_VAE

pytestmark = pytest.mark.slow

STEPS = 4000
PROBES = (0, 500, 2000, STEPS - 1)


def _ious(model, parts, refs) -> list[float]:
    model.eval()
    lat = encode_points(model, np.stack([p.points[:512] for p in parts]), np.stack([p.normals[:512] for p in parts]))
    grids = decode_grid(model, torch.from_numpy(lat), 64) > 0
    model.train()
    return [iou(g, r) for g, r in zip(grids, refs)]


@pytest.mark.timeout(1800)
def test_vae_overfits_four_real_parts(tmp_path):
    import time

    import partverse.train.loop as loop

    asset = shared("assets", "kenney_motorcycle.glb")
    cfg = load_config(None, [f"out_dir={tmp_path / 'vae'}", "kind=vae", f"steps={STEPS}", f"ckpt_every={STEPS}",
                             "data.source=assets", f"data.path={asset}", "data.num_objects=1", *OVERFIT_VAE,
                             "log_every=100"])
    parts = load_objects(cfg.data)[0].parts
    assert len(parts) == 4
    refs = [mesh_occupancy_grid(p.vertices, p.faces, 64, cfg.data.thickness) for p in parts]
    curve: dict[int, list[float]] = {}
    model = {}
    clock = {"start": None, "probe": 0.0}

    def on_step(step, metrics):
        clock["start"] = clock["start"] or time.process_time()
        if step in PROBES:
            t = time.process_time()
            curve[step] = _ious(model["vae"], parts, refs)
            clock["probe"] += time.process_time() - t
            print(f"step {step} train cpu {time.process_time() - clock['start'] - clock['probe']:.0f}s "
                  f"load {os.getloadavg()[0]:.1f} IoU {np.round(curve[step], 3).tolist()}", flush=True)

    class Capture(loop.Task):  # the loop's own task; keep a handle on its model for the IoU probes
        def __init__(self, c):
            super().__init__(c)
            model["vae"] = self.model

    original, loop.Task = loop.Task, Capture
    try:
        train(cfg, on_step=on_step)
    finally:
        loop.Task = original
    print("IoU@64^3 per part by step:", {k: np.round(v, 3).tolist() for k, v in curve.items()})
    # measured (session 3, threads=1, benchmarks/vae_overfit_curve.py with this config): mean IoU 0.002 ->
    # 0.74 (step 1000, 1.3 CPU-min) -> 0.86 (2000, 2.5) -> 0.86 (3000, 3.6) -> 0.92 (4000, 4.7); this
    # test's own run: 0.002 -> 0.59 (500) -> 0.71 (1000) -> 0.86 (1999, 136 CPU-s), per part
    # [0.86, 0.77, 0.89, 0.93]. With 4096 labelled queries per part it plateaued at 0.78 (11000 steps,
    # 13 CPU-min), and before vae.init_logvar at 0.4. 4000 steps leave a margin over 0.85 for run-to-run noise.
    first, mid, last = (np.mean(curve[k]) for k in (0, 500, STEPS - 1))  # the target: >= 0.85
    assert first < 0.05
    assert mid > first + 0.3 and last > mid + 0.1 and last >= 0.85
    assert min(curve[STEPS - 1]) > 0.7

    from partverse.cli import _register_all, app
    from typer.testing import CliRunner

    _register_all()
    res = CliRunner().invoke(app, ["evaluate", "--ckpt", str(tmp_path / "vae"), "--assets", str(asset),
                                   "--resolution", "64", "--out", str(tmp_path / "report.json")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["kind"] == "vae" and len(report["objects"][0]["parts"]) == 4
    row = report["part_mean"]
    assert set(row) >= {"iou", "chamfer_l2", "chamfer_l1", "fscore_0.02", "fscore_0.1", "box_fit"}
    assert abs(row["iou"] - last) < 0.05  # evaluate decodes the same checkpoint the same way
