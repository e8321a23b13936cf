"""The multi-part DiT on tiny synthetic objects (2-4 primitives in given boxes): it learns, its samples
stay in their boxes, part editing keeps fixed parts, long sequences go past max_parts, and the
`partverse sample` / `evaluate` commands write what they promise."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh
from typer.testing import CliRunner

from partverse.train.batches import dit_batch
from partverse.train.config import load_config
from partverse.train.data import synthetic_objects
from partverse.train.latents import encode_objects, object_boxes
from partverse.train.loop import train
from partverse.train.metrics import box_fit, chamfer
from partverse.train.pretrained import load_dit
from partverse.train.registry import build_model
from partverse.train.sample import decode_meshes, generate
from partverse.train.step import dit_loss

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

VAE_STEPS, DIT_STEPS = 1600, 400
GUIDANCE = 2.0  # classifier-free guidance for the box-fit samples (the model is trained with dit.cond_dropout)
MODEL = ["vae.width=48", "vae.heads=4", "vae.num_latents=16", "vae.latent_dim=8", "vae.decoder_layers=1",
         "data.encoder_points=256", "data.label_queries=2048", "data.volume_queries=256", "data.near_queries=256",
         "data.free_queries=512",
         "data.num_objects=6", "data.max_parts=4", "threads=1", "log_every=50", "optim.warmup_steps=10"]
DIT = ["dit.width=64", "dit.heads=4", "dit.depth=2", "dit.max_parts=4", "dit.cond_dropout=0.1", "optim.lr=1e-3",
       "batch_size=6"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dit")
    vae_cfg = load_config(None, [f"out_dir={root / 'vae'}", "kind=vae", f"steps={VAE_STEPS}", "batch_size=8",
                                 f"ckpt_every={VAE_STEPS}", "optim.lr=2e-3", *MODEL])
    train(vae_cfg)
    dit_cfg = load_config(None, [f"out_dir={root / 'dit'}", "kind=dit", f"vae_ckpt={root / 'vae'}",
                                 f"steps={DIT_STEPS}", f"ckpt_every={DIT_STEPS}", *MODEL, *DIT])
    losses: list[float] = []
    train(dit_cfg, on_step=lambda s, m: losses.append(m["loss"]))
    dit, vae, meta = load_dit(root / "dit")
    return {"root": root, "cfg": dit_cfg, "dit": dit, "vae": vae, "scale": meta["latent_scale"], "losses": losses,
            "objects": synthetic_objects(6, 0, max_parts=4)}


def _held_loss(model, store, cfg) -> float:
    with torch.no_grad():
        vals = []
        for step in range(10_000, 10_008):
            b = {k: torch.from_numpy(v) for k, v in dit_batch(store, step, 0, 6, cfg.dit.part_id_table, 0.0).items()}
            vals.append(dit_loss(model, b)[0].item())
    return float(np.mean(vals))


def test_flow_loss_falls_well_below_untrained(run):
    cfg = run["cfg"]
    store, _ = encode_objects(run["vae"], run["objects"], 4, cfg.data.encoder_points, True, scale=run["scale"])
    torch.manual_seed(0)
    untrained = build_model("dit", "part_dit", cfg.dit, latent_dim=8, num_latents=16).eval()
    before, after = _held_loss(untrained, store, cfg), _held_loss(run["dit"], store, cfg)
    print(f"flow loss untrained {before:.3f} trained {after:.3f}; curve {run['losses'][::50]}")
    assert after < 0.6 * before


def _fits(vae, latents, boxes) -> list[float]:
    return [box_fit(trimesh.Trimesh(v, f).sample(2000) if len(f) else np.zeros((0, 3)), b[0], b[1])
            for (v, f), b in zip(decode_meshes(vae, latents, 48), boxes)]


def test_samples_stay_in_their_boxes(run):
    from partverse.train.latents import encode_points

    fits, recon_fits, matched, total = [], [], 0, 0
    for i, obj in enumerate(run["objects"][:3]):
        boxes = object_boxes(obj)
        lat = generate(run["dit"], run["vae"], run["scale"], boxes, steps=25, seed=i, guidance=GUIDANCE)
        ref = encode_points(run["vae"], np.stack([p.points[:256] for p in obj.parts]),
                            np.stack([p.normals[:256] for p in obj.parts]))
        dist = np.linalg.norm(lat[:, None] - ref[None], axis=(2, 3))  # generated part k vs reference part j
        matched += int((dist.argmin(1) == np.arange(len(boxes))).sum())
        total += len(boxes)
        fits += _fits(run["vae"], lat, boxes)
        recon_fits += _fits(run["vae"], ref, boxes)
    print(f"box-fit generated {np.round(fits, 3)} mean {np.mean(fits):.3f}; "
          f"VAE reconstruction {np.mean(recon_fits):.3f}; latent nearest-reference match {matched}/{total}")
    assert matched / total >= 0.7  # each generated part is closest to the true part of its box
    # measured (session 3, a run outside pytest, same configs): VAE 1600 steps (init_logvar -6) ->
    # reconstruction box-fit 0.87; DiT 200 / 400 / 600 steps -> generated 0.67 / 0.79 / 0.86 at guidance 1,
    # 0.81 / 0.85 / 0.87 at guidance 2 (session 2, 400 VAE steps: 0.52, reconstruction 0.55)
    assert np.mean(fits) >= 0.7 and np.mean(fits) >= 0.85 * np.mean(recon_fits) - 0.02


def test_part_editing_keeps_fixed_parts_and_long_sequences(run):
    from partverse.train.latents import encode_points

    obj = run["objects"][0]
    vae = run["vae"]
    ref = encode_points(vae, np.stack([p.points[:256] for p in obj.parts]), np.stack([p.normals[:256] for p in obj.parts]))
    boxes = object_boxes(obj)
    keep = {i: ref[i] for i in range(len(boxes) - 1)}
    lat = generate(run["dit"], vae, run["scale"], boxes, fixed=keep, steps=20, seed=3)
    assert all(np.allclose(lat[i], ref[i], atol=1e-5) for i in keep)
    meshes = decode_meshes(vae, lat, 48)
    recon = decode_meshes(vae, ref, 48)
    for i in keep:
        cd = chamfer(trimesh.Trimesh(*meshes[i]).sample(3000), obj.parts[i].points)["chamfer_l1"]
        base = chamfer(trimesh.Trimesh(*recon[i]).sample(3000), obj.parts[i].points)["chamfer_l1"]
        assert cd < 0.25 and abs(cd - base) < 0.01, (i, cd, base)  # measured 0.18 (400 VAE steps), 0.075 (600): VAE-bound
    # 10 boxes with max_parts=4: generated 4 at a time with earlier parts fixed as context
    grid = np.array([[x, y] for x in (-0.8, -0.3, 0.2, 0.6) for y in (-0.8, 0.1, 0.5)][:10])
    many = np.stack([np.stack([[gx, gy, -0.3], [gx + 0.3, gy + 0.3, 0.3]]) for gx, gy in grid]).astype(np.float32)
    lat = generate(run["dit"], vae, run["scale"], many, steps=5, seed=0)
    assert lat.shape == (10, 16, 8) and np.isfinite(lat).all()
    assert len({lat[i].tobytes() for i in range(10)}) == 10


def test_sample_and_evaluate_commands(run, tmp_path):
    from partverse.cli import _register_all, app

    _register_all()
    obj = run["objects"][1]
    part0 = tmp_path / "keep0.glb"
    trimesh.Trimesh(obj.parts[0].vertices, obj.parts[0].faces).export(part0)
    spec = {"boxes": object_boxes(obj).tolist(), "names": [f"p{i}" for i in range(len(obj.parts))], "keep": {"0": "keep0.glb"}}
    (tmp_path / "boxes.json").write_text(json.dumps(spec))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sample", "--ckpt", str(run["root"] / "dit"), "--boxes", str(tmp_path / "boxes.json"),
                                   "--out", str(out), "--steps", "10", "--resolution", "32"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["parts"] == len(obj.parts)
    scene = trimesh.load(out / "object.glb", force="scene")
    assert len(scene.geometry) >= 1 and all((out / f"part_{i}.glb").exists() for i in range(len(obj.parts)))
    from tests._data_release import asset_rows, write_run

    write_run(tmp_path, asset_rows(256, ("kenney_motorcycle.glb",)))  # a held-out object: its boxes, its parts
    res = CliRunner().invoke(app, ["evaluate", "--ckpt", str(run["root"] / "dit"), "--release", str(tmp_path / "release"),
                                   "--steps", "5", "--resolution", "32", "--out", str(tmp_path / "report.json")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["kind"] == "dit" and [o["uid"] for o in report["objects"]] == ["kenney_motorcycle"]
    assert len(report["objects"][0]["parts"]) == 4
    assert set(report["part_mean"]) == {"iou", "chamfer_l2", "chamfer_l1", "fscore_0.02", "fscore_0.1", "box_fit"}
    assert set(report["object_mean"]) == {"iou", "chamfer_l2", "chamfer_l1", "fscore_0.02", "fscore_0.1"}
    assert all(0.0 <= p["box_fit"] <= 1.0 and 0.0 <= p["iou"] <= 1.0 for p in report["objects"][0]["parts"])
    assert report["num_parts"] == 4 and 0 <= report["empty_parts"] <= 4
    bad = tmp_path / "bad.json"
    bad.write_text('{"boxes": [[0, 1, 2]]}')
    res = CliRunner().invoke(app, ["sample", "--ckpt", str(run["root"] / "dit"), "--boxes", str(bad)])
    assert res.exit_code == 2 and "bad.json" in res.output
