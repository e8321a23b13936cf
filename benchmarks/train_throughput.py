"""Training throughput of the part VAE and the multi-part DiT, tiny and default configs.

Prints, per config: samples/s (parts for the VAE, objects for the DiT), model FLOPs per step (counted
by torch's FlopCounterMode on a real step), achieved FLOP/s, the matmul FLOP/s this device reaches at
the model's own shapes (measured in the same run) and their ratio (MFU), and the data-loading share
of step time (target < 5%). Same script on a GPU (--device cuda).

    python benchmarks/train_throughput.py [--steps 10] [--threads 2] [--device cpu|cuda] [--only tiny]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from partverse.train import checkpoint  # noqa: E402
from partverse.train.config import load_config  # noqa: E402
from partverse.train.loop import Task  # noqa: E402
from partverse.train.step import train_step  # noqa: E402

CONFIGS = {
    "tiny": ["vae.width=32", "vae.heads=2", "vae.num_latents=16", "vae.latent_dim=8", "vae.decoder_layers=1",
             "data.encoder_points=256", "data.volume_queries=256", "data.near_queries=256", "dit.width=64",
             "dit.depth=2", "dit.max_parts=4", "data.max_parts=4"],
    "default": [],  # the dataclass defaults: VAE width 128, 64 x 16 latents; DiT width 128, depth 4, 8 parts
}


def _matmul_flops(m: int, k: int, n: int, device: torch.device, repeats: int = 20) -> float:
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * m * k * n * repeats / (time.perf_counter() - t)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step_flops(task: Task, batch: dict, optimizer) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        train_step(task.model, batch, task.loss_fn, optimizer)
    return counter.get_total_flops()


def bench(kind: str, name: str, steps: int, device: torch.device, root: Path, vae_dir: Path | None) -> dict:
    extra = [f"vae_ckpt={vae_dir}"] if vae_dir else []
    cfg = load_config(None, [f"out_dir={root / f'{name}-{kind}'}", f"kind={kind}", "batch_size=8",
                             "data.num_objects=8", "data.label_queries=2048", f"device={device.type}",
                             *CONFIGS[name], *extra])
    task = Task(cfg)
    task.model.to(device)
    optimizer = torch.optim.AdamW(task.model.parameters(), lr=1e-4)
    flops = _step_flops(task, task.batch(0, 0, 1, device), optimizer)
    data_s = step_s = 0.0
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        batch = task.batch(step, 0, 1, device)
        _sync(device)
        t1 = time.perf_counter()
        train_step(task.model, batch, task.loss_fn, optimizer, grad_clip=1.0)
        _sync(device)
        data_s += t1 - t0
        step_s += time.perf_counter() - t0
    tokens = cfg.batch_size * (cfg.data.volume_queries + cfg.data.near_queries) if kind == "vae" else \
        cfg.batch_size * (cfg.dit.max_parts + 1) * cfg.vae.num_latents
    width = cfg.vae.width if kind == "vae" else cfg.dit.width
    peak = _matmul_flops(tokens, width, 4 * width, device)  # the MLP matmul at the model's token count
    achieved = flops * steps / step_s
    if kind == "vae":
        checkpoint.save(cfg.out_dir, 1, task.model, cfg=cfg, meta={"kind": "vae"})
    return {"config": name, "model": kind, "params_M": sum(p.numel() for p in task.model.parameters()) / 1e6,
            "samples_per_s": cfg.batch_size * steps / step_s, "gflop_per_step": flops / 1e9,
            "achieved_gflops": achieved / 1e9, "matmul_gflops": peak / 1e9, "mfu": achieved / peak,
            "data_share": data_s / step_s, "out": cfg.out_dir}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--only", choices=sorted(CONFIGS), default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'config':8} {'model':5} {'params(M)':>9} {'samples/s':>10} {'GFLOP/step':>10} {'GFLOP/s':>8} "
          f"{'matmul GFLOP/s':>14} {'MFU':>6} {'data share':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ([args.only] if args.only else list(CONFIGS)):
            vae = bench("vae", name, args.steps, device, Path(tmp), None)
            dit = bench("dit", name, args.steps, device, Path(tmp), Path(vae["out"]))
            for r in (vae, dit):
                print(f"{r['config']:8} {r['model']:5} {r['params_M']:9.2f} {r['samples_per_s']:10.1f} "
                      f"{r['gflop_per_step']:10.2f} {r['achieved_gflops']:8.2f} {r['matmul_gflops']:14.2f} "
                      f"{r['mfu']:6.1%} {r['data_share']:10.1%}")


if __name__ == "__main__":
    main()
