"""The training loop: one code path for a single process, torchrun DDP and Ray Train workers.

Distributed mode is detected, not configured: an initialised process group (Ray Train) or the
RANK / WORLD_SIZE variables torchrun sets. Each rank builds the same global batch and keeps its slice.
"""
from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from partverse.errors import ConfigError
from partverse.train import checkpoint
from partverse.train.batches import dit_batch, part_labels, vae_batch
from partverse.train.config import TrainConfig, save_config
from partverse.train.data import load_objects
from partverse.train.metric_log import MetricLogger
from partverse.train.registry import build_model
from partverse.train.step import EMA, dit_loss, train_step, vae_loss


def _distributed(device: torch.device) -> tuple[int, int]:
    import torch.distributed as dist

    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


class Task:
    """What differs between the VAE and the DiT: the model, its batches and its loss."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.meta: dict = {"kind": cfg.kind}
        self.extra_files: dict[str, Path] = {}
        objects = load_objects(cfg.data)
        if cfg.kind == "vae":
            parts = [p for o in objects for p in o.parts]
            d = cfg.data
            self.labels = part_labels(parts, d.label_queries, d.near_sigma, d.thickness, d.seed,
                                      cache_dir=Path(cfg.out_dir) / "label_cache")
            self.model = build_model("vae", cfg.vae.model, cfg.vae)
            self.loss_fn = partial(vae_loss, kl_weight=cfg.vae.kl_weight, near_weight=cfg.vae.near_weight)
        else:
            from partverse.train.latents import encode_objects
            from partverse.train.pretrained import load_vae

            vae_dir = checkpoint.resolve(cfg.vae_ckpt)
            vae = load_vae(vae_dir)
            encoder = text_encoder(cfg.dit)
            self.store, scale = encode_objects(vae, objects, cfg.dit.max_parts, cfg.data.encoder_points,
                                               cfg.dit.global_branch, text_encoder=encoder)
            self.meta["latent_scale"] = scale
            name = "ema" if (vae_dir / "ema.safetensors").exists() else "model"
            self.extra_files["vae.safetensors"] = vae_dir / f"{name}.safetensors"
            self.model = build_model("dit", cfg.dit.model, cfg.dit, latent_dim=cfg.vae.latent_dim,
                                     num_latents=cfg.vae.num_latents)
            self.loss_fn = dit_loss

    def batch(self, step: int, rank: int, world: int, device: torch.device) -> dict:
        c, d = self.cfg, self.cfg.data
        if c.kind == "vae":
            arrays = vae_batch(self.labels, step, c.seed, c.batch_size, d.encoder_points, d.volume_queries,
                               d.near_queries, (c.vae.num_latents, c.vae.latent_dim), rank, world, d.free_queries)
        else:
            arrays = dit_batch(self.store, step, c.seed, c.batch_size, c.dit.part_id_table, c.dit.cond_dropout,
                               rank, world, c.dit.caption_dropout)
        return {k: torch.from_numpy(v).to(device, non_blocking=True) for k, v in arrays.items()}


def text_encoder(dit_cfg):
    """The frozen caption encoder a DiT config names (None without captions); fills dit_cfg.text_dim."""
    from partverse.train.text import TextEncoder

    if not dit_cfg.text_encoder:
        return None
    encoder = TextEncoder(dit_cfg.text_encoder, dit_cfg.text_tokens)
    if dit_cfg.text_dim not in (0, encoder.dim):
        raise ConfigError(f"dit.text_dim={dit_cfg.text_dim} is invalid: the text encoder "
                          f"{dit_cfg.text_encoder!r} gives {encoder.dim} (leave it 0 to fill it)")
    dit_cfg.text_dim = encoder.dim
    return encoder


def _warmup(step: int, warmup: int) -> float:
    return min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0


def train(cfg: TrainConfig, on_step=None) -> dict:
    """Run (or resume) training as `cfg` says; returns the last logged metrics.
    on_step(step, metrics) is called after every step (tests, Ray Train reporting)."""
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = _device(cfg)
    if cfg.precision == "fp16" and device.type != "cuda":  # fp16 without a GradScaler underflows
        raise ConfigError(f"precision='fp16' is invalid on {device.type}: allowed 'fp32' or 'bf16' there")
    rank, world = _distributed(device)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    np.random.seed(cfg.seed)
    task = Task(cfg)
    model = task.model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, betas=tuple(cfg.optim.betas),
                                  weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(_warmup, warmup=cfg.optim.warmup_steps))
    ema = EMA(model, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
    start = 0
    last = checkpoint.latest(cfg.out_dir) if cfg.resume else None
    if last is not None:
        start = checkpoint.load_state(last, model, optimizer, scheduler, ema)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]
    scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" and device.type == "cuda" else None
    logger = MetricLogger(cfg.out_dir, cfg.log, start) if rank == 0 else None
    if rank == 0:
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        save_config(cfg, Path(cfg.out_dir) / "config.yaml")
    metrics: dict = {}
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        batch = task.batch(step, rank, world, device)
        t1 = time.perf_counter()
        metrics = train_step(model, batch, task.loss_fn, optimizer, scheduler, grad_clip=cfg.optim.grad_clip,
                             ema=ema, scaler=scaler, autocast_dtype=dtype)
        metrics.update(step=step, data_s=t1 - t0, step_s=time.perf_counter() - t0)
        if on_step is not None:
            on_step(step, metrics)
        if logger and (step % cfg.log_every == 0 or step == cfg.steps - 1):
            logger.log(step, metrics)
        if rank == 0 and ((step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps):
            checkpoint.save(cfg.out_dir, step + 1, model, optimizer, scheduler, ema, cfg, task.meta, task.extra_files)
    if logger:
        logger.close()
    return metrics
