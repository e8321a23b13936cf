"""Load trained models back from checkpoint directories (weights + their config)."""
from __future__ import annotations

from pathlib import Path

from partverse.train import checkpoint
from partverse.train.config import TrainConfig, load_config


def run_config(ckpt: str | Path) -> TrainConfig:
    path = checkpoint.resolve(ckpt) / "config.yaml"
    return load_config(path)


def load_vae(ckpt: str | Path, ema: bool = True):
    """A VAE checkpoint (or a DiT checkpoint, which carries a copy of its VAE) -> PartVAE in eval mode."""
    from partverse.train.registry import build_model

    ckpt = checkpoint.resolve(ckpt)
    cfg = run_config(ckpt)
    vae = build_model("vae", cfg.vae.model, cfg.vae)
    if cfg.kind == "dit":
        vae.load_state_dict(checkpoint.load_weights(ckpt, "vae"))
    else:
        name = "ema" if ema and (ckpt / "ema.safetensors").exists() else "model"
        vae.load_state_dict(checkpoint.load_weights(ckpt, name))
    return vae.eval()


def load_dit(ckpt: str | Path, ema: bool = True):
    """DiT checkpoint -> (dit, vae, meta) in eval mode; meta holds latent_scale."""
    from partverse.train.registry import build_model

    ckpt = checkpoint.resolve(ckpt)
    cfg = run_config(ckpt)
    meta = checkpoint.read_meta(ckpt)
    dit = build_model("dit", cfg.dit.model, cfg.dit, latent_dim=cfg.vae.latent_dim, num_latents=cfg.vae.num_latents)
    name = "ema" if ema and (ckpt / "ema.safetensors").exists() else "model"
    dit.load_state_dict(checkpoint.load_weights(ckpt, name))
    return dit.eval(), load_vae(ckpt), meta
