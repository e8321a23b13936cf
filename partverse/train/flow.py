"""Rectified flow: x_t = (1 - t) x0 + t noise; the model predicts the velocity noise - x0.
Sampling integrates from t = 1 (noise) to t = 0 with Euler steps and classifier-free guidance;
fixed parts (editing, long sequences) are replaced at each step by their encoded latents re-noised
to the current t (CoPart §4.1, Eq. 12, in flow form)."""
from __future__ import annotations

import torch


def noisy(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x0, noise (B, P, M, D); t (B,) -> x_t."""
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    return (1 - tt) * x0 + tt * noise


def flow_loss(pred: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-object mean over its valid parts' tokens of |v_pred - (noise - x0)|^2 -> (B,)."""
    err = (pred - (noise - x0)).pow(2).mean(dim=(2, 3))  # (B, P)
    m = mask.float()
    return (err * m).sum(1) / m.sum(1).clamp(min=1)


@torch.no_grad()
def sample(model, box, mask, part_ids, steps: int = 50, guidance: float = 1.0, generator=None,
           fixed: torch.Tensor | None = None, fixed_mask: torch.Tensor | None = None, text=None):
    """Generate latents (B, P, M, D) for boxes `box` (B, P, M, D).
    fixed (B, P, M, D) clean latents and fixed_mask (B, P) bool: parts kept as given."""
    b, p, m, d = box.shape
    x = torch.randn((b, p, m, d), generator=generator, device=box.device)
    ts = torch.linspace(1.0, 0.0, steps + 1, device=box.device)
    keep = None if fixed is None else fixed_mask[:, :, None, None]
    for i in range(steps):
        t = ts[i].expand(b)
        if keep is not None:
            renoised = noisy(fixed, torch.randn(x.shape, generator=generator, device=x.device), t)
            x = torch.where(keep, renoised, x)
        v = _velocity(model, x, t, mask, part_ids, box, guidance, text)
        x = x + (ts[i + 1] - ts[i]) * v
    if keep is not None:
        x = torch.where(keep, fixed, x)
    return x


def _velocity(model, x, t, mask, part_ids, box, guidance, text):
    b = x.shape[0]
    cond = torch.zeros(b, dtype=torch.bool, device=x.device)
    if guidance == 1.0:
        return model(x, t, mask, part_ids, box, drop=cond, text=text)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([mask, mask]), torch.cat([part_ids, part_ids]),
                 torch.cat([box, box]), drop=torch.cat([cond, ~cond]),
                 text=None if text is None else torch.cat([text, text]))
    v_cond, v_uncond = both.chunk(2)
    return v_uncond + guidance * (v_cond - v_uncond)
