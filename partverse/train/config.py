"""The trainer's config tree: dataclasses checked by `validate()`, loaded from YAML, overridden by
`a.b=value` flags whose names map one-to-one to fields."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from partverse.errors import ConfigError


def _check(cond: bool, name: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"{name}={value!r} is invalid: allowed {allowed}")


@dataclass
class VAEConfig:
    """VecSet part VAE. Shapes: points (B, S, 3) + normals -> latents (B, num_latents, latent_dim)."""

    model: str = "vecset_vae"
    width: int = 128
    heads: int = 4
    num_latents: int = 64
    latent_dim: int = 16
    encoder_layers: int = 1
    decoder_layers: int = 2
    num_freqs: int = 8
    kl_weight: float = 1e-3
    near_weight: float = 1.0
    # posterior log-variance at initialisation: -6 starts near a plain autoencoder (noise std 0.05);
    # at 0 (std 1, as large as the means) the decoder sees mostly noise and the overfit test stalled at IoU 0.4
    init_logvar: float = -6.0

    def validate(self, prefix: str = "vae") -> None:
        from partverse.train.registry import MODELS

        _check(self.model in MODELS["vae"], f"{prefix}.model", self.model, f"one of {sorted(MODELS['vae'])}")
        for name in ("width", "heads", "num_latents", "latent_dim", "num_freqs"):
            _check(getattr(self, name) > 0, f"{prefix}.{name}", getattr(self, name), "> 0")
        _check(self.width % self.heads == 0, f"{prefix}.width", self.width, f"a multiple of heads={self.heads}")
        _check(self.encoder_layers >= 0 and self.decoder_layers >= 0, f"{prefix}.decoder_layers",
               self.decoder_layers, ">= 0")
        _check(self.kl_weight >= 0, f"{prefix}.kl_weight", self.kl_weight, ">= 0")


@dataclass
class DiTConfig:
    """Multi-part flow DiT over (B, max_parts, num_latents, latent_dim) part latents."""

    model: str = "part_dit"
    width: int = 128
    heads: int = 4
    depth: int = 4  # blocks; each block = within-part attn, cross-part attn, box cross-attn, MLP
    max_parts: int = 8
    part_id_table: int = 50  # ids are a random draw from this table, so they carry no order
    global_branch: bool = True
    cond_dropout: float = 0.1  # classifier-free guidance: drop box + caption conditions per object
    text_encoder: str = ""  # transformers text model (local dir or hub id) for captions; "" = no captions
    text_tokens: int = 32  # caption tokens kept per slot (padding masked)
    caption_dropout: float = 0.1  # also drop the captions alone (sampling without captions stays in-distribution)
    text_dim: int = 0  # filled from the text encoder's hidden size when one is given

    def validate(self, prefix: str = "dit") -> None:
        from partverse.train.registry import MODELS
        from partverse.train.text import check_source

        _check(self.model in MODELS["dit"], f"{prefix}.model", self.model, f"one of {sorted(MODELS['dit'])}")
        for name in ("width", "heads", "depth", "max_parts", "text_tokens"):
            _check(getattr(self, name) > 0, f"{prefix}.{name}", getattr(self, name), "> 0")
        _check(self.width % self.heads == 0, f"{prefix}.width", self.width, f"a multiple of heads={self.heads}")
        _check(self.part_id_table >= self.max_parts, f"{prefix}.part_id_table", self.part_id_table,
               f">= max_parts={self.max_parts}")
        _check(0.0 <= self.cond_dropout < 1.0, f"{prefix}.cond_dropout", self.cond_dropout, "in [0, 1)")
        _check(0.0 <= self.caption_dropout < 1.0, f"{prefix}.caption_dropout", self.caption_dropout, "in [0, 1)")
        if self.text_encoder:
            check_source(self.text_encoder, f"{prefix}.text_encoder")
        _check(self.text_dim >= 0 and (self.text_dim == 0 or bool(self.text_encoder)), f"{prefix}.text_dim",
               self.text_dim, f"0 when {prefix}.text_encoder is '' (it is filled from the encoder otherwise)")


@dataclass
class DataConfig:
    """Where objects come from. source: release (a PartDataset release directory), assets (GLB files
    split per geometry), synthetic (boxes / spheres / cylinders in given boxes)."""

    source: str = "synthetic"
    path: str = ""  # release dir, or a directory / comma-separated list of asset files
    num_objects: int = 16  # synthetic objects, or the first N objects of the source
    max_parts: int = 8
    encoder_points: int = 512  # surface points given to the encoder per part
    volume_queries: int = 1024  # per part per step
    near_queries: int = 1024
    free_queries: int = 1024  # fresh uniform queries per part per step, free labels outside the part's box
    near_sigma: float = 0.01
    label_queries: int = 16384  # precomputed labelled queries per part (each kind)
    thickness: float = 0.01  # open / thin parts: points closer than this to the surface are inside
    seed: int = 0

    def validate(self, prefix: str = "data") -> None:
        allowed = ("release", "assets", "synthetic")
        _check(self.source in allowed, f"{prefix}.source", self.source, f"one of {list(allowed)}")
        if self.source != "synthetic":
            _check(bool(self.path), f"{prefix}.path", self.path, f"a path when source={self.source!r}")
        for name in ("num_objects", "max_parts", "encoder_points", "volume_queries", "near_queries", "label_queries"):
            _check(getattr(self, name) > 0, f"{prefix}.{name}", getattr(self, name), "> 0")
        _check(self.free_queries >= 0, f"{prefix}.free_queries", self.free_queries, ">= 0")
        _check(self.near_sigma > 0 and self.thickness >= 0, f"{prefix}.near_sigma", self.near_sigma, "> 0")


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 20
    grad_clip: float = 1.0
    ema_decay: float = 0.999  # 0 disables EMA

    def validate(self, prefix: str = "optim") -> None:
        _check(self.lr > 0, f"{prefix}.lr", self.lr, "> 0")
        _check(self.weight_decay >= 0, f"{prefix}.weight_decay", self.weight_decay, ">= 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), f"{prefix}.betas", self.betas,
               "two values in [0, 1)")
        _check(self.warmup_steps >= 0, f"{prefix}.warmup_steps", self.warmup_steps, ">= 0")
        _check(self.grad_clip >= 0, f"{prefix}.grad_clip", self.grad_clip, ">= 0 (0 disables)")
        _check(0 <= self.ema_decay < 1, f"{prefix}.ema_decay", self.ema_decay, "in [0, 1)")


@dataclass
class TrainConfig:
    """Root of the tree. `kind` picks what is trained: the part VAE or the multi-part DiT."""

    kind: str = "vae"
    out_dir: str = "runs/train"
    steps: int = 1000
    batch_size: int = 8  # global batch: parts (vae) or objects (dit), split across DDP ranks
    seed: int = 0
    log: str = "csv"  # csv | tensorboard
    log_every: int = 10
    ckpt_every: int = 200
    resume: bool = True  # continue from out_dir/last when it exists
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 only on CUDA)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads on CPU; 0 leaves torch's default
    vae_ckpt: str = ""  # dit: the trained VAE checkpoint directory (frozen encoder/decoder)
    vae: VAEConfig = field(default_factory=VAEConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def validate(self) -> "TrainConfig":
        _check(self.kind in ("vae", "dit"), "kind", self.kind, "one of ['vae', 'dit']")
        _check(self.steps > 0, "steps", self.steps, "> 0")
        _check(self.batch_size > 0, "batch_size", self.batch_size, "> 0")
        _check(self.log in ("csv", "tensorboard"), "log", self.log, "one of ['csv', 'tensorboard']")
        _check(self.log_every > 0 and self.ckpt_every > 0, "ckpt_every", self.ckpt_every, "> 0")
        _check(self.precision in ("fp32", "bf16", "fp16"), "precision", self.precision,
               "one of ['fp32', 'bf16', 'fp16']")
        _check(self.device in ("auto", "cpu", "cuda"), "device", self.device, "one of ['auto', 'cpu', 'cuda']")
        _check(self.threads >= 0, "threads", self.threads, ">= 0")
        if self.kind == "dit":
            _check(bool(self.vae_ckpt), "vae_ckpt", self.vae_ckpt, "a trained VAE checkpoint dir when kind='dit'")
            _check(self.data.max_parts <= self.dit.max_parts, "data.max_parts", self.data.max_parts,
                   f"<= dit.max_parts={self.dit.max_parts}")
        self.vae.validate()
        self.dit.validate()
        self.data.validate()
        self.optim.validate()
        return self


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, values: dict, prefix: str = "") -> Any:
    """Build dataclass `cls` from nested dicts; unknown keys are an error naming the key."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in (values or {}).items():
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown field; allowed {sorted(names)}")
        sub = _dataclass_type(cls, key)
        kwargs[key] = from_dict(sub, value, f"{prefix}{key}.") if sub else _coerce(names[key], value, prefix)
    return cls(**kwargs)


def _dataclass_type(cls: type, name: str) -> type | None:
    default = {f.name: f for f in dataclasses.fields(cls)}[name]
    if default.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        made = default.default_factory()  # type: ignore[misc]
        return type(made) if dataclasses.is_dataclass(made) else None
    return None


def _coerce(f: dataclasses.Field, value: Any, prefix: str) -> Any:
    default = f.default
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(float(v) for v in items)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{prefix}{f.name}={value!r} is invalid: expected {type(default).__name__}") from None


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply `a.b=value` strings to a nested dict (values stay strings; `from_dict` coerces them)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. optim.lr=3e-4")
        key, value = item.split("=", 1)
        node = values
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = value
    return values


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, **top: Any) -> TrainConfig:
    """YAML file (optional) + overrides -> validated TrainConfig."""
    import yaml

    values: dict = {}
    if path:
        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(values).__name__}")
    apply_overrides(values, overrides or [])
    values.update({k: v for k, v in top.items() if v is not None})  # e.g. the command's kind wins
    return from_dict(TrainConfig, values).validate()


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    import yaml

    data = to_dict(cfg)
    data["optim"]["betas"] = list(data["optim"]["betas"])
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
