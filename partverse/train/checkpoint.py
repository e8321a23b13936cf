"""Checkpoints: a directory per step with model.safetensors (+ ema.safetensors), train_state.pt
(optimizer, scheduler, step), config.yaml and meta.json; `<out>/checkpoints/last` names the newest.
Every file is written to a temp name then renamed, and `last` is written after the directory, so a
crash never leaves a half checkpoint named as the latest."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from partverse.errors import PartverseError


def _state_dict(module) -> dict:
    module = getattr(module, "module", module)  # unwrap DDP
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save(out_dir: str | Path, step: int, model, optimizer=None, scheduler=None, ema=None, cfg=None,
         meta: dict | None = None, extra_files: dict[str, Path] | None = None) -> Path:
    """Write <out_dir>/checkpoints/step_<step>/ and point `last` at it. Returns the directory."""
    import torch
    from safetensors.torch import save_file

    from partverse.train.config import save_config

    root = Path(out_dir) / "checkpoints"
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_state_dict(model), str(tmp / "model.safetensors"))
    if ema is not None:
        save_file({k: v.contiguous() for k, v in ema.shadow.items()}, str(tmp / "ema.safetensors"))
    state = {"step": step, "ema_updates": ema.updates if ema is not None else 0}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    torch.save(state, tmp / "train_state.pt")
    if cfg is not None:
        save_config(cfg, tmp / "config.yaml")
    (tmp / "meta.json").write_text(json.dumps({"step": step, **(meta or {})}, indent=1))
    for name, src in (extra_files or {}).items():
        shutil.copyfile(src, tmp / name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    last_tmp = root / "last.tmp"
    last_tmp.write_text(final.name)
    os.replace(last_tmp, root / "last")
    return final


def latest(out_dir: str | Path) -> Path | None:
    last = Path(out_dir) / "checkpoints" / "last"
    if not last.exists():
        return None
    path = last.parent / last.read_text().strip()
    return path if path.is_dir() else None


def resolve(path: str | Path) -> Path:
    """A checkpoint directory, or a run directory (its latest checkpoint)."""
    p = Path(path)
    if (p / "model.safetensors").exists():
        return p
    found = latest(p)
    if found is None:
        raise PartverseError(f"{path}: not a checkpoint directory (no model.safetensors) and no checkpoints/last")
    return found


def load_weights(ckpt: str | Path, name: str = "model") -> dict:
    from safetensors.torch import load_file

    path = resolve(ckpt) / f"{name}.safetensors"
    if not path.exists():
        raise PartverseError(f"{path}: missing")
    return load_file(str(path))


def load_state(ckpt: Path, model, optimizer=None, scheduler=None, ema=None) -> int:
    """Restore everything `save` wrote; returns the step to continue from."""
    import torch

    getattr(model, "module", model).load_state_dict(load_weights(ckpt))
    state: dict[str, Any] = torch.load(ckpt / "train_state.pt", weights_only=False)
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if ema is not None and (ckpt / "ema.safetensors").exists():
        ema.shadow = load_weights(ckpt, "ema")
        ema.updates = int(state.get("ema_updates", 0))
    return int(state["step"])


def read_meta(ckpt: str | Path) -> dict:
    return json.loads((resolve(ckpt) / "meta.json").read_text())
