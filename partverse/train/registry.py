"""Models registered by name per kind ("vae", "dit"); unknown names fail with the available ones."""
from __future__ import annotations

from typing import Any, Callable

from partverse.errors import ConfigError


def _vecset_vae(cfg: Any):
    from partverse.train.vae import PartVAE

    return PartVAE(cfg)


def _part_dit(cfg: Any, latent_dim: int, num_latents: int):
    from partverse.train.dit import PartDiT

    return PartDiT(cfg, latent_dim=latent_dim, num_latents=num_latents)


MODELS: dict[str, dict[str, Callable[..., Any]]] = {
    "vae": {"vecset_vae": _vecset_vae},
    "dit": {"part_dit": _part_dit},
}


def build_model(kind: str, name: str, cfg: Any, **kwargs: Any):
    """Instantiate the model registered as `name` under `kind` with its config section."""
    if kind not in MODELS:
        raise ConfigError(f"model kind {kind!r} is unknown: available: {', '.join(sorted(MODELS))}")
    if name not in MODELS[kind]:
        raise ConfigError(f"{kind} model {name!r} is unknown: available: {', '.join(sorted(MODELS[kind]))}")
    return MODELS[kind][name](cfg, **kwargs)
