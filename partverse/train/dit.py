"""Multi-part flow DiT (CoPart's 3D branch).

Input: noisy part latents x (B, P, M, D) for P = max_parts (+1 global slot: the whole object as an
extra part, same weights, told apart by a learned embedding), a validity mask (B, P) and a time t (B,).
Each block: self-attention within each part, attention across all parts of the object, cross-attention
to the part's box tokens through a zero-initialised projection, (with captions) cross-attention to the
slot's caption tokens through its own zero-initialised projection, then an MLP; time enters by adaptive
LayerNorm. Output: the flow velocity (B, P, M, D).
Classifier-free guidance: `drop` (B,) replaces all of an object's conditions (boxes and captions) by
learned null tokens; `drop_text` (B,) replaces only its captions (also used when no captions are given).
"""
from __future__ import annotations

import torch
from torch import nn

from partverse.train.layers import Attention, mlp, timestep_embedding


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def _zero_linear(width: int) -> nn.Linear:
    layer = nn.Linear(width, width)
    nn.init.zeros_(layer.weight)  # the condition starts as a no-op (zero-initialised projection)
    nn.init.zeros_(layer.bias)
    return layer


class PartBlock(nn.Module):
    def __init__(self, width: int, heads: int, text: bool = False):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(width, elementwise_affine=False) for _ in range(4))
        self.within = Attention(width, heads)
        self.across = Attention(width, heads)
        self.cond_attn = Attention(width, heads)
        self.cond_out = _zero_linear(width)
        if text:
            self.text_norm = nn.LayerNorm(width, elementwise_affine=False)
            self.text_attn = Attention(width, heads)
            self.text_out = _zero_linear(width)
        self.mlp = mlp(width)
        self.ada = nn.Linear(width, 9 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, h, c, cond, key_mask, text=None, text_mask=None):
        """h (B, P, M, W), c (B, W), cond (B, P, L, W), key_mask (B, P); caption tokens text (B, P, Lt, W)
        with text_mask (B, P, Lt) bool -> (B, P, M, W)."""
        b, p, m, w = h.shape
        mod = self.ada(c)[:, None, None, :].chunk(9, dim=-1)
        x = _modulate(self.norms[0](h), mod[0], mod[1]).reshape(b * p, m, w)
        h = h + mod[2] * self.within(x).view(b, p, m, w)
        x = _modulate(self.norms[1](h), mod[3], mod[4]).reshape(b, p * m, w)
        tok_mask = key_mask[:, :, None].expand(b, p, m).reshape(b, p * m)
        h = h + mod[5] * self.across(x, mask=tok_mask).view(b, p, m, w)
        x = self.norms[2](h).reshape(b * p, m, w)
        h = h + self.cond_out(self.cond_attn(x, cond.reshape(b * p, -1, w))).view(b, p, m, w)
        if text is not None:
            x = self.text_norm(h).reshape(b * p, m, w)
            y = self.text_attn(x, text.reshape(b * p, -1, w), mask=text_mask.reshape(b * p, -1))
            h = h + self.text_out(y).view(b, p, m, w)
        return h + mod[8] * self.mlp(_modulate(self.norms[3](h), mod[6], mod[7]))


class PartDiT(nn.Module):
    def __init__(self, cfg, latent_dim: int, num_latents: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.latent_dim, self.num_latents = latent_dim, num_latents
        self.slots = cfg.max_parts + (1 if cfg.global_branch else 0)
        self.x_in = nn.Linear(latent_dim, w)
        self.token_pos = nn.Parameter(torch.randn(num_latents, w) * 0.02)
        self.part_ids = nn.Embedding(cfg.part_id_table, w)
        self.global_embed = nn.Parameter(torch.randn(w) * 0.02)
        self.t_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.box_in = nn.Linear(latent_dim, w)
        self.text_in = nn.Linear(cfg.text_dim, w) if cfg.text_dim else None
        self.null_text = nn.Parameter(torch.zeros(w)) if cfg.text_dim else None
        self.null_cond = nn.Parameter(torch.zeros(1, w))  # what a dropped condition becomes (CFG)
        self.blocks = nn.ModuleList(PartBlock(w, cfg.heads, text=bool(cfg.text_dim)) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False)
        self.ada_out = nn.Linear(w, 2 * w)
        self.x_out = nn.Linear(w, latent_dim)
        for layer in (self.ada_out, self.x_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, t, mask, part_ids, box, drop=None, text=None, text_mask=None, drop_text=None):
        """x (B, P, M, D) noisy latents; t (B,); mask (B, P) bool; part_ids (B, P) long in the table;
        box (B, P, M, D) box tokens (the VAE encoding of each box's surface); drop (B,) bool: replace
        this object's conditions by the null token; text (B, P, L, T) caption features with text_mask
        (B, P, L) bool, or None (= no captions: the null caption); drop_text (B,) bool: null captions.
        With the global branch the last slot is the whole object (its part_id is ignored)."""
        b, p, m, _ = x.shape
        h = self.x_in(x) + self.token_pos
        ident = self.part_ids(part_ids)
        if self.cfg.global_branch:
            ident = torch.cat([ident[:, :-1], self.global_embed.expand(b, 1, -1)], dim=1)
        h = h + ident[:, :, None, :]
        cond = self.box_in(box)
        if drop is not None:
            cond = torch.where(drop[:, None, None, None], self.null_cond.expand_as(cond), cond)
        words, word_mask = self._captions(b, p, text, text_mask, drop, drop_text)
        c = self.t_mlp(timestep_embedding(t, h.shape[-1]))
        for block in self.blocks:
            h = block(h, c, cond, mask, words, word_mask)
        shift, scale = self.ada_out(c)[:, None, None, :].chunk(2, dim=-1)
        return self.x_out(_modulate(self.norm_out(h), shift, scale))

    def _captions(self, b, p, text, text_mask, drop, drop_text):
        """Caption tokens (B, P, L, W) and key mask (B, P, L); dropped / missing captions -> one null token."""
        if self.text_in is None:
            if text is not None:
                raise ValueError("captions given to a DiT trained without a text encoder (dit.text_encoder='')")
            return None, None
        null = self.null_text.view(1, 1, 1, -1)
        if text is None:
            return null.expand(b, p, 1, -1), torch.ones(b, p, 1, dtype=torch.bool, device=null.device)
        words = self.text_in(text)
        off = torch.zeros(b, dtype=torch.bool, device=words.device)
        off = off | drop if drop is not None else off
        off = off | drop_text if drop_text is not None else off
        first = torch.zeros_like(text_mask)
        first[..., 0] = True  # a dropped caption keeps one key: the null token in position 0
        words = torch.where(off[:, None, None, None], torch.cat([null.expand(b, p, 1, -1), words[:, :, 1:]], 2), words)
        return words, torch.where(off[:, None, None], first, text_mask | first)  # never all keys masked
