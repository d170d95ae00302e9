"""1-D convolutional encoder and decoder (SEANet-like, ELU, dilated residual units).

Only ONNX-exportable ops; lengths are exact multiples of the hop (product of strides).
"""

from __future__ import annotations

import torch
from torch import nn


class ResUnit(nn.Module):
    """x + Conv1x1(ELU(DilatedConv(ELU(x))))."""

    def __init__(self, ch: int, dilation: int, kernel: int = 7) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            nn.Conv1d(ch, ch, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2),
            nn.ELU(),
            nn.Conv1d(ch, ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class Encoder(nn.Module):
    """[B, 1, T] -> [B, latent, T / prod(strides)]."""

    def __init__(self, channels: list[int], strides: list[int], latent: int, dilations: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(1, channels[0], 7, padding=3)]
        for i, s in enumerate(strides):
            layers += [ResUnit(channels[i], d) for d in dilations]
            layers += [nn.ELU(), nn.Conv1d(channels[i], channels[i + 1], 2 * s, stride=s, padding=s // 2)]
        layers += [ResUnit(channels[-1], d) for d in dilations]
        layers += [nn.ELU(), nn.Conv1d(channels[-1], latent, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """[B, latent, F] -> [B, 1, F * prod(strides)]; mirror of Encoder."""

    def __init__(self, channels: list[int], strides: list[int], latent: int, dilations: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(latent, channels[-1], 3, padding=1)]
        layers += [ResUnit(channels[-1], d) for d in dilations]
        for i in reversed(range(len(strides))):
            s = strides[i]
            layers += [
                nn.ELU(),
                nn.ConvTranspose1d(channels[i + 1], channels[i], 2 * s, stride=s, padding=s // 2),
            ]
            layers += [ResUnit(channels[i], d) for d in dilations]
        layers += [nn.ELU(), nn.Conv1d(channels[0], 1, 7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
