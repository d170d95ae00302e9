"""The VQ-VAE: encoder, quantiser (residual VQ by default, FSQ with `model.quantizer = "fsq"`) and decoder."""

from __future__ import annotations

import torch
from torch import nn

from training.nets import Decoder, Encoder
from training.quantizer import FSQ, ResidualVQ


class VQVAE(nn.Module):
    """Single-channel VQ-VAE: x [B, 1, T] -> (x_hat, indices [B, S, T/hop], commitment loss)."""

    def __init__(self, cfg: dict, seed: int = 0) -> None:
        super().__init__()
        m = cfg["model"]
        self.hop = 1
        for s in m["strides"]:
            self.hop *= s
        self.encoder = Encoder(m.get("encoder_channels", m["channels"]), m["strides"], m["latent"], m["dilations"])
        kind = m.get("quantizer", "rvq")
        self.quantizer: ResidualVQ | FSQ
        if kind == "rvq":
            self.quantizer = ResidualVQ(m["stages"], m["codes"], m["latent"], decay=m.get("ema_decay", 0.99),
                                        dead_threshold=m.get("dead_threshold", 1.0), seed=seed)
        elif kind == "fsq":
            self.quantizer = FSQ(m["fsq_levels"], m["latent"])
        else:
            raise ValueError(f"model.quantizer must be 'rvq' or 'fsq', got {kind!r}")
        self.decoder = Decoder(m["channels"], m["strides"], m["latent"], m.get("decoder_dilations", m["dilations"]))

    def forward(
        self, x: torch.Tensor, n_active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        z_q, idx, commit = self.quantizer(z, n_active)
        return self.decoder(z_q), idx, commit

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, stages: int) -> torch.Tensor:
        """Encode, keep the first `stages` stages, decode (eval mode, no codebook updates)."""
        _, idx, _ = self.quantizer(self.encoder(x))
        return self.decoder(self.quantizer.decode(idx[:, :stages]))
