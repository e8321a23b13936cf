"""VecSet part VAE (3DShape2VecSet family).

encode: surface points (B, S, 3) + normals (B, S, 3) -> M query tokens cross-attend to all points
-> self-attention. The queries are the embeddings of the first M input points (callers pass points
in random order, so this is a random subset, 3DShape2VecSet's point queries; cheaper than farthest
point sampling and spatially spread the same way) plus a learned per-slot offset -> posterior mean /
log-variance (B, M, D) (the KL bottleneck; the log-variance starts at `vae.init_logvar`, small, so
early training is not drowned in posterior noise).
decode: latents (B, M, D) -> self-attention -> query points (B, Q, 3) cross-attend -> MLP ->
occupancy logits (B, Q). Parts stay in their object's [-1, 1] frame (absolute positions).
"""
from __future__ import annotations

import torch
from torch import nn

from partverse.train.layers import Block, PointEmbed


class PartVAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.point_embed = PointEmbed(w, cfg.num_freqs, with_normals=True)
        self.query_embed = PointEmbed(w, cfg.num_freqs, with_normals=False)
        self.latent_queries = nn.Parameter(torch.randn(cfg.num_latents, w) * 0.02)
        self.enc_cross = Block(w, cfg.heads, kv_width=w)
        self.enc_self = nn.ModuleList(Block(w, cfg.heads) for _ in range(cfg.encoder_layers))
        self.to_posterior = nn.Linear(w, 2 * cfg.latent_dim)
        with torch.no_grad():
            self.to_posterior.bias[cfg.latent_dim:].fill_(cfg.init_logvar)
        self.from_latent = nn.Linear(cfg.latent_dim, w)
        self.dec_self = nn.ModuleList(Block(w, cfg.heads) for _ in range(cfg.decoder_layers))
        self.dec_cross = Block(w, cfg.heads, kv_width=w)
        self.head = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 1))

    def encode(self, points: torch.Tensor, normals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, 3) x2 -> mean, logvar, each (B, M, D)."""
        feats = self.point_embed(points, normals)
        m = self.cfg.num_latents
        if points.shape[1] < m:
            raise ValueError(f"encoder needs at least num_latents={m} points, got {points.shape[1]}")
        h = self.enc_cross(feats[:, :m] + self.latent_queries, feats)
        for block in self.enc_self:
            h = block(h)
        mean, logvar = self.to_posterior(h).chunk(2, dim=-1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, latents: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """latents (B, M, D), queries (B, Q, 3) -> occupancy logits (B, Q)."""
        h = self.latent_tokens(latents)
        return self.query(h, queries)

    def latent_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """The decoder's self-attention over latents, reusable across many query chunks."""
        h = self.from_latent(latents)
        for block in self.dec_self:
            h = block(h)
        return h

    def query(self, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        return self.head(self.dec_cross(self.query_embed(queries), tokens)).squeeze(-1)

    def forward(self, points, normals, queries, noise: torch.Tensor):
        """Returns (logits (B, Q), kl (B,)): reparameterised posterior sample (noise (B, M, D)), decoded."""
        mean, logvar = self.encode(points, normals)
        z = mean + (0.5 * logvar).exp() * noise
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=(1, 2))
        return self.decode(z, queries), kl
