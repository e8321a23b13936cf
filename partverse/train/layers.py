"""Transformer pieces shared by the VAE and the DiT (torch imported here: this module is only
imported by code that already needs torch)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class PointEmbed(nn.Module):
    """Fourier features of xyz (…, 3) [+ normals (…, 3)] -> (…, width)."""

    def __init__(self, width: int, num_freqs: int, with_normals: bool):
        super().__init__()
        freqs = (2.0 ** torch.arange(num_freqs, dtype=torch.float32)) * math.pi
        self.register_buffer("freqs", freqs, persistent=False)
        in_dim = 3 + 6 * num_freqs + (3 if with_normals else 0)
        self.proj = nn.Linear(in_dim, width)

    def forward(self, xyz: torch.Tensor, normals: torch.Tensor | None = None) -> torch.Tensor:
        ang = (xyz.unsqueeze(-1) * self.freqs).flatten(-2)  # (…, 3F)
        feats = [xyz, ang.sin(), ang.cos()] + ([normals] if normals is not None else [])
        return self.proj(torch.cat(feats, dim=-1))


class Attention(nn.Module):
    """Multi-head attention; `mask` (B, Lk) bool True = keep the key."""

    def __init__(self, width: int, heads: int, kv_width: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.k = nn.Linear(kv_width or width, width, bias=False)  # a key bias has zero gradient (softmax shift)
        self.v = nn.Linear(kv_width or width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        ctx = x if ctx is None else ctx
        b, lq, w = x.shape
        q = self.q(x).view(b, lq, self.heads, -1).transpose(1, 2)
        k = self.k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.v(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, lq, w))


def mlp(width: int, hidden_mult: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width * hidden_mult), nn.GELU(), nn.Linear(width * hidden_mult, width))


class Block(nn.Module):
    """Pre-norm transformer block: (cross-)attention then MLP."""

    def __init__(self, width: int, heads: int, kv_width: int | None = None):
        super().__init__()
        self.norm_q = nn.LayerNorm(width)
        self.norm_kv = nn.LayerNorm(kv_width) if kv_width else None
        self.attn = Attention(width, heads, kv_width)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = mlp(width)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        kv = None if ctx is None else self.norm_kv(ctx)
        x = x + self.attn(self.norm_q(x), kv)
        return x + self.mlp(self.norm_mlp(x))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    ang = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([ang.cos(), ang.sin()], dim=-1)
