"""One training step, and the losses of the two models."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from partverse.train.flow import flow_loss, noisy


class EMA:
    """Exponential moving average of parameters (float32 copies, on the model's device). The decay
    warms up as min(decay, (1 + n) / (10 + n)) after n updates, so short runs still get a useful EMA."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().float().clone() for k, v in _unwrap(model).state_dict().items()}

    @torch.no_grad()
    def update(self, model) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for k, v in _unwrap(model).state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(decay).add_(v.detach().float(), alpha=1 - decay)
            else:
                self.shadow[k].copy_(v)


def _unwrap(model):
    return getattr(model, "module", model)


def vae_loss(model, batch: dict, kl_weight: float, near_weight: float) -> tuple[torch.Tensor, dict]:
    """BCE(volume) + near_weight * BCE(near-surface) + kl_weight * KL, each a mean per part, then
    averaged over the batch (so DDP ranks' means average to the global mean)."""
    logits, kl = model(batch["points"], batch["normals"], batch["queries"], batch["noise"])
    bce = F.binary_cross_entropy_with_logits(logits.float(), batch["occ"], reduction="none")
    near = batch["near_mask"].float()
    bce_near = (bce * near).sum(1) / near.sum(1).clamp(min=1)
    bce_vol = (bce * (1 - near)).sum(1) / (1 - near).sum(1).clamp(min=1)
    loss = (bce_vol + near_weight * bce_near + kl_weight * kl.float()).mean()
    return loss, {"bce_vol": bce_vol.mean().item(), "bce_near": bce_near.mean().item(), "kl": kl.mean().item()}


def dit_loss(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """Flow-matching loss of the multi-part DiT over valid parts (padding masked out)."""
    x_t = noisy(batch["x0"], batch["noise"], batch["t"])
    pred = model(x_t, batch["t"], batch["mask"], batch["part_ids"], batch["box"], drop=batch["drop"],
                 text=batch.get("text"), text_mask=batch.get("text_mask"), drop_text=batch.get("drop_text"))
    return flow_loss(pred.float(), batch["x0"], batch["noise"], batch["mask"]).mean(), {}


def train_step(model, batch: dict, loss_fn, optimizer, scheduler=None, *, grad_clip: float = 0.0,
               ema: EMA | None = None, scaler=None, autocast_dtype: torch.dtype | None = None) -> dict:
    """Forward, backward, clip, optimizer + scheduler step, EMA update. Returns floats for logging.
    Under DDP the gradients are averaged across ranks during backward."""
    device_type = next(_unwrap(model).parameters()).device.type
    ctx = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    optimizer.zero_grad(set_to_none=True)
    with ctx:
        loss, metrics = loss_fn(model, batch)
    (scaler.scale(loss) if scaler else loss).backward()
    if scaler:
        scaler.unscale_(optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else float("inf"))
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    if scheduler is not None:
        scheduler.step()
    if ema is not None:
        ema.update(model)
    return {"loss": loss.item(), "grad_norm": float(grad_norm), "lr": optimizer.param_groups[0]["lr"], **metrics}
