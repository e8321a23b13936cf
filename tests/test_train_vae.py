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

pytestmark = pytest.mark.slow

STEPS = 400
PROBES = (0, STEPS // 4, STEPS // 2, STEPS - 1)


def _ious(model, parts, refs) -> list[float]:
    model.eval()
    lat = encode_points(model, np.stack([p.points[:512] for p in parts]), np.stack([p.normals[:512] for p in parts]))
    grids = decode_grid(model, torch.from_numpy(lat), 64) > 0
    model.train()
    return [iou(g, r) for g, r in zip(grids, refs)]


@pytest.mark.timeout(1200)
def test_vae_overfits_four_real_parts(tmp_path):
    asset = shared("assets", "kenney_motorcycle.glb")
    cfg = load_config(None, [f"out_dir={tmp_path / 'vae'}", "kind=vae", f"steps={STEPS}", f"ckpt_every={STEPS}",
                             "batch_size=4", "data.source=assets", f"data.path={asset}", "data.num_objects=1",
                             "data.label_queries=4096", "data.volume_queries=512", "data.near_queries=512",
                             "vae.width=64", "optim.lr=1e-3", "optim.warmup_steps=10", "optim.ema_decay=0",
                             "threads=1", "log_every=50"])
    parts = load_objects(cfg.data)[0].parts
    assert len(parts) == 4
    refs = [mesh_occupancy_grid(p.vertices, p.faces, 64, cfg.data.thickness) for p in parts]
    curve: dict[int, list[float]] = {}
    model = {}

    import partverse.train.loop as loop

    import time

    clock = {"start": None, "probe": 0.0}

    def on_step(step, metrics):
        clock["start"] = clock["start"] or time.perf_counter()
        if step in PROBES:
            t = time.perf_counter()
            curve[step] = _ious(model["vae"], parts, refs)
            clock["probe"] += time.perf_counter() - t
            print(f"step {step} train {time.perf_counter() - clock['start'] - clock['probe']:.0f}s "
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
    # measured (session 2, load ~9 on 2 cores, threads=1, 400 steps in 76 s of training): mean IoU
    # 0.002 -> 0.20 (step 100) -> 0.38 (step 399), per part [0.26, 0.27, 0.49, 0.50]; the 0.85
    # is not reached on CPU in this budget (see the issue-11 note); threads=2 under load ran 30x slower
    first, last = np.mean(curve[0]), np.mean(curve[STEPS - 1])
    assert first < 0.05
    assert last > first + 0.15 and min(curve[STEPS - 1]) > 0.03

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
