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
           fixed: torch.Tensor | None = None, fixed_mask: torch.Tensor | None = None, text=None, text_mask=None):
    """Generate latents (B, P, M, D) for boxes `box` (B, P, M, D) [and captions text (B, P, L, T),
    text_mask (B, P, L)]. fixed (B, P, M, D) clean latents and fixed_mask (B, P) bool: parts kept as given.
    Guidance contrasts all conditions against none (boxes and captions dropped together)."""
    b, p, m, d = box.shape
    x = torch.randn((b, p, m, d), generator=generator, device=box.device)
    ts = torch.linspace(1.0, 0.0, steps + 1, device=box.device)
    keep = None if fixed is None else fixed_mask[:, :, None, None]
    for i in range(steps):
        t = ts[i].expand(b)
        if keep is not None:
            renoised = noisy(fixed, torch.randn(x.shape, generator=generator, device=x.device), t)
            x = torch.where(keep, renoised, x)
        v = _velocity(model, x, t, mask, part_ids, box, guidance, text, text_mask)
        x = x + (ts[i + 1] - ts[i]) * v
    if keep is not None:
        x = torch.where(keep, fixed, x)
    return x


def _velocity(model, x, t, mask, part_ids, box, guidance, text, text_mask):
    b = x.shape[0]
    cond = torch.zeros(b, dtype=torch.bool, device=x.device)
    if guidance == 1.0:
        return model(x, t, mask, part_ids, box, drop=cond, text=text, text_mask=text_mask)
    two = lambda a: None if a is None else torch.cat([a, a])  # noqa: E731
    both = model(two(x), two(t), two(mask), two(part_ids), two(box), drop=torch.cat([cond, ~cond]),
                 text=two(text), text_mask=two(text_mask))
    v_cond, v_uncond = both.chunk(2)
    return v_uncond + guidance * (v_cond - v_uncond)
