"""Tiny trainer configs shared by the trainer tests."""
from __future__ import annotations

from partverse.train.config import TrainConfig, load_config

TINY_VAE = ["vae.width=32", "vae.heads=2", "vae.num_latents=16", "vae.latent_dim=8", "vae.decoder_layers=1",
            "data.encoder_points=128", "data.volume_queries=128", "data.near_queries=128", "data.label_queries=1024",
            "optim.warmup_steps=2", "log_every=1", "threads=1"]


def tiny_vae_config(out_dir, *extra: str) -> TrainConfig:
    return load_config(None, [f"out_dir={out_dir}", "kind=vae", "data.num_objects=2", "batch_size=4",
                              *TINY_VAE, *extra])

# the VAE overfit test's config (tests/test_train_vae.py, benchmarks/vae_overfit_curve.py); source and
# steps are set by each
OVERFIT_VAE = ["batch_size=4", "data.label_queries=16384", "data.volume_queries=512", "data.near_queries=512",
               "vae.width=64", "optim.lr=1e-3", "optim.warmup_steps=10", "optim.ema_decay=0", "threads=1"]
