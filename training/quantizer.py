"""Residual vector quantiser with EMA codebooks, k-means init, dead-code restarts and quantiser dropout;
and finite scalar quantisation (FSQ) as the alternative chosen by `model.quantizer = "fsq"`.

After SoundStream (Zeghidour et al. 2021, arXiv 2107.03312: RVQ + structured quantiser dropout, k-means
init, restart of unused codes) and VQ-VAE-2's EMA codebook updates (Razavi et al. 2019). Stage s
quantises the residual left by stages < s, so truncating to the first q stages is a valid lower rate.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def nearest(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row for each row of x [N, D] (squared Euclidean)."""
    d = (x * x).sum(1, keepdim=True) - 2 * x @ codebook.t() + (codebook * codebook).sum(1)[None]
    return d.argmin(1)


def kmeans(x: torch.Tensor, k: int, iters: int, gen: torch.Generator) -> torch.Tensor:
    """Plain Lloyd k-means of x [N, D] into k centroids (empty clusters keep their old centroid)."""
    cent = x[torch.randint(len(x), (k,), generator=gen).to(x.device)].clone()
    for _ in range(iters):
        idx = nearest(x, cent)
        sums = torch.zeros_like(cent).index_add_(0, idx, x)
        counts = torch.bincount(idx, minlength=k).to(x.dtype)
        filled = counts > 0
        cent[filled] = sums[filled] / counts[filled, None]
    return cent


class ResidualVQ(nn.Module):
    """RVQ over [B, D, F] latents; returns (quantised latent with straight-through grads, indices, loss)."""

    def __init__(
        self, stages: int, codes: int, dim: int, decay: float = 0.99, dead_threshold: float = 1.0,
        kmeans_iters: int = 10, seed: int = 0,
    ) -> None:
        super().__init__()
        self.stages, self.codes, self.dim = stages, codes, dim
        self.decay, self.dead_threshold, self.kmeans_iters = decay, dead_threshold, kmeans_iters
        self.register_buffer("codebooks", torch.randn(stages, codes, dim) * 0.1)
        self.register_buffer("cluster_size", torch.ones(stages, codes))
        self.register_buffer("embed_sum", self.codebooks.clone())
        self.register_buffer("initialized", torch.zeros(stages, dtype=torch.bool))
        self.gen = torch.Generator().manual_seed(seed)
        self.restarts = torch.zeros(stages, dtype=torch.long)

    @torch.no_grad()
    def _update(self, s: int, x: torch.Tensor, idx: torch.Tensor) -> None:
        """EMA update of stage s from the active residuals x [N, D] and their indices."""
        if not bool(self.initialized[s]):
            cent = kmeans(x, self.codes, self.kmeans_iters, self.gen)
            self.codebooks[s] = cent
            self.embed_sum[s] = cent
            self.cluster_size[s] = 1.0
            self.initialized[s] = True
            return
        counts = torch.bincount(idx, minlength=self.codes).to(x.dtype)
        sums = torch.zeros(self.codes, self.dim, device=x.device).index_add_(0, idx, x)
        self.cluster_size[s].mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum[s].mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size[s].sum()
        smoothed = (self.cluster_size[s] + 1e-5) / (n + self.codes * 1e-5) * n
        self.codebooks[s] = self.embed_sum[s] / smoothed[:, None]
        dead = self.cluster_size[s] < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = x[torch.randint(len(x), (n_dead,), generator=self.gen).to(x.device)]
            self.codebooks[s][dead] = pick
            self.embed_sum[s][dead] = pick
            self.cluster_size[s][dead] = 1.0
            self.restarts[s] += n_dead

    def forward(
        self, z: torch.Tensor, n_active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [B, D, F]; n_active [B] = stages used per example (quantiser dropout), default all.

        Returns z_q [B, D, F], indices [B, S, F] (long), commitment loss (scalar).
        """
        b, d, f = z.shape
        x = z.permute(0, 2, 1)  # [B, F, D]
        if n_active is None:
            n_active = torch.full((b,), self.stages, dtype=torch.long, device=z.device)
        residual = x
        out = torch.zeros_like(x)
        indices = []
        commit = z.new_zeros(())
        for s in range(self.stages):
            active = (n_active > s).to(x.dtype)[:, None, None]  # [B, 1, 1]
            flat = residual.detach().reshape(-1, d)
            mask = (n_active > s).repeat_interleave(f)
            if self.training and mask.any():
                idx_active = nearest(flat[mask], self.codebooks[s])
                self._update(s, flat[mask], idx_active)
            idx = nearest(flat, self.codebooks[s])
            q = self.codebooks[s][idx].view(b, f, d)
            commit = commit + (((residual - q) ** 2) * active).mean()
            out = out + q * active
            residual = residual - q * active
            indices.append(idx.view(b, f))
        z_q = x + (out - x).detach()
        return z_q.permute(0, 2, 1), torch.stack(indices, 1), commit

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices [B, q, F] (q <= stages) -> latent [B, D, F], the sum of the first q stages' codes."""
        z = sum(self.codebooks[s][indices[:, s]] for s in range(indices.shape[1]))
        return z.permute(0, 2, 1)


class FSQ(nn.Module):
    """Finite scalar quantisation (Mentzer et al. 2023, arXiv 2309.15505) over [B, D, F] latents.

    Each frame's latent is projected to len(levels) dims, bounded with tanh so that dim i rounds to
    exactly levels[i] values, rounded with a straight-through gradient, scaled to [-1, 1] and projected
    back to D dims. The implicit codebook is the product grid, prod(levels) codes (log2 of it bits per
    frame); there is no codebook to learn, hence no commitment loss, EMA, k-means or restarts.
    The interface matches ResidualVQ with a single stage: indices are [B, 1, F] mixed-radix grid indices.
    """

    def __init__(self, levels: list[int], dim: int, eps: float = 1e-3) -> None:
        super().__init__()
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be >= 2 each, got {levels}")
        self.levels_list = [int(v) for v in levels]
        self.stages, self.dim, self.eps = 1, dim, eps
        self.codes = math.prod(self.levels_list)
        self.bits = math.log2(self.codes)
        self.project_in = nn.Linear(dim, len(levels))
        self.project_out = nn.Linear(len(levels), dim)
        lv = torch.tensor(self.levels_list, dtype=torch.long)
        self.register_buffer("levels", lv, persistent=False)
        self.register_buffer("basis", torch.cumprod(torch.cat([lv.new_ones(1), lv[:-1]]), 0), persistent=False)
        self.restarts = torch.zeros(1, dtype=torch.long)  # nothing to restart; kept for the training log

    def bound(self, h: torch.Tensor) -> torch.Tensor:
        """Squash h [..., d] so that rounding gives levels[i] integers in dim i (offset by 1/2 for even L)."""
        lv = self.levels.to(h.dtype)
        half_l = (lv - 1) * (1 + self.eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0).to(h.dtype)
        shift = torch.atanh(offset / half_l)
        return torch.tanh(h + shift) * half_l - offset

    def quantize(self, h: torch.Tensor) -> torch.Tensor:
        """h [..., d] -> grid points in [-1, 1] (straight-through gradient through the rounding)."""
        b = self.bound(h)
        q = b + (torch.round(b) - b).detach()
        return q / (self.levels // 2).to(h.dtype)

    def codes_to_indices(self, q: torch.Tensor) -> torch.Tensor:
        """Grid points [..., d] -> long indices [...] in [0, codes)."""
        half = (self.levels // 2).to(q.dtype)
        digits = torch.round(q * half + half).long()
        return (digits * self.basis).sum(-1)

    def indices_to_codes(self, idx: torch.Tensor) -> torch.Tensor:
        """Long indices [...] -> grid points [..., d] in [-1, 1]."""
        digits = (idx[..., None] // self.basis) % self.levels
        half = (self.levels // 2).to(torch.float32)
        return (digits.to(torch.float32) - half) / half

    def forward(
        self, z: torch.Tensor, n_active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [B, D, F] -> (z_q [B, D, F], indices [B, 1, F], zero loss); n_active is ignored (one stage)."""
        q = self.quantize(self.project_in(z.permute(0, 2, 1)))  # [B, F, d]
        idx = self.codes_to_indices(q.detach())
        return self.project_out(q).permute(0, 2, 1), idx[:, None, :], z.new_zeros(())

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices [B, 1, F] -> latent [B, D, F]."""
        return self.project_out(self.indices_to_codes(indices[:, 0])).permute(0, 2, 1)
