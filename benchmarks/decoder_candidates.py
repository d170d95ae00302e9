"""Decoder candidates for a faster ECG model: onnxruntime time of untrained decoders of other widths against the
shipped ecg-v4 decoder, on one input, interleaved, best of 4 (what the arithmetic costs, before any training).

    python benchmarks/decoder_candidates.py

Each candidate is exported and rewritten into the runtime's CPU form (training.cpu_graph) exactly as
training.export does; the input is 2 leads x 4,146 frames (a 4,096-frame decoder chunk plus margins).
`--other-forms` adds decoders of other shapes than training.nets.Decoder's (defined here, untrained): ReLU in place
of ELU (which onnxruntime fuses into the convolutions), depthwise-separable residual units, and units at the frame
rate with one transposed convolution to the sample rate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.cpu_graph import rewrite_file
from training.nets import Decoder, ResUnit
from vqcodec.models.runtime import session

CANDIDATES = {"ecg-v4's [32,64,96,128] (untrained)": ([32, 64, 96, 128], [1, 3]),
              "[16,32,64,128]": ([16, 32, 64, 128], [1, 3]), "[16,32,64,96]": ([16, 32, 64, 96], [1, 3]),
              "[16,24,48,96]": ([16, 24, 48, 96], [1, 3]), "[16,32,48,64]": ([16, 32, 48, 64], [1, 3]),
              "[32,64,96,128], dilations [1]": ([32, 64, 96, 128], [1]),
              "[16,32,64,128], dilations [1]": ([16, 32, 64, 128], [1])}
"""name -> (channels, dilations); strides [2, 2, 2] and latent 64 as ecg-v4."""
SHIPPED = Path(__file__).resolve().parents[1] / "vqcodec" / "models" / "ecg-v4" / "decoder.onnx"


class SeparableUnit(nn.Module):
    """x + Conv1x1(ELU(Conv1x1(DepthwiseConv(ELU(x))))): a residual unit with a depthwise-separable convolution."""

    def __init__(self, ch: int, dilation: int, kernel: int = 7) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), nn.Conv1d(ch, ch, kernel, dilation=dilation, groups=ch,
                                                       padding=dilation * (kernel - 1) // 2),
                                   nn.Conv1d(ch, ch, 1), nn.ELU(), nn.Conv1d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def separable(channels: list[int]) -> nn.Module:
    """Decoder's shape with every residual unit depthwise-separable."""
    dec = Decoder(channels, [2, 2, 2], 64, [1, 3])
    for i, m in enumerate(dec.net):
        if isinstance(m, ResUnit):
            dec.net[i] = SeparableUnit(m.block[1].in_channels, m.block[1].dilation[0])
    return dec


def relu(channels: list[int]) -> nn.Module:
    """Decoder's shape with ReLU for every ELU."""
    dec = Decoder(channels, [2, 2, 2], 64, [1, 3])
    for m in dec.modules():
        for name, child in m.named_children():
            if isinstance(child, nn.ELU):
                setattr(m, name, nn.ReLU())
    return dec


def frame_rate(width: int, dilations: list[int], hop: int = 8, head: int = 16) -> nn.Module:
    """Every residual unit at the frame rate, then a transposed convolution (overlap-add of 2 * hop samples per
    frame) to `head` channels at the sample rate, one unit there and a kernel-7 output convolution."""
    return nn.Sequential(nn.Conv1d(64, width, 3, padding=1), *[ResUnit(width, d) for d in dilations], nn.ELU(),
                         nn.ConvTranspose1d(width, head, 2 * hop, stride=hop, padding=hop // 2), ResUnit(head, 1),
                         nn.ELU(), nn.Conv1d(head, 1, 7, padding=3))


OTHER_FORMS = {"[32,64,96,128], ReLU": lambda: relu([32, 64, 96, 128]),
               "[16,32,64,128], ReLU": lambda: relu([16, 32, 64, 128]),
               "[16,24,48,96], ReLU": lambda: relu([16, 24, 48, 96]),
               "[32,64,96,128], separable units": lambda: separable([32, 64, 96, 128]),
               "frame rate, 128 wide, 6 units": lambda: frame_rate(128, [1, 3, 9, 1, 3, 9]),
               "frame rate, 192 wide, 4 units": lambda: frame_rate(192, [1, 3, 9, 1])}
"""name -> an untrained decoder of another form (--other-forms)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other-forms", action="store_true", help="add the decoders of other forms")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: every core)")
    args = ap.parse_args()
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    runs = {}
    makers = {name: (lambda c=channels, d=dilations: Decoder(c, [2, 2, 2], 64, d))
              for name, (channels, dilations) in CANDIDATES.items()}
    if args.other_forms:
        makers.update(OTHER_FORMS)
    for i, (name, make) in enumerate(makers.items()):
        dec = make().eval()
        path = tmp / f"d{i}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(dec, (torch.zeros(1, 64, 4),), str(path), dynamo=False, input_names=["latent"],
                              output_names=["signal"], opset_version=17,
                              dynamic_axes={"latent": {0: "batch", 2: "frames"}, "signal": {0: "batch", 2: "samples"}})
        rewrite_file(path)
        runs[name] = (session(path, args.threads), sum(p.numel() for p in dec.parameters()))
    runs["shipped ecg-v4"] = (session(SHIPPED, args.threads), 0)
    z = np.random.default_rng(0).standard_normal((2, 64, 4096 + 50)).astype(np.float32)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(4):
        for k, (s, _) in runs.items():
            t = time.perf_counter()
            s.run(None, {"latent": z})
            times[k].append(time.perf_counter() - t)
    base = min(times["shipped ecg-v4"])
    print("| decoder | parameters | best of 4, s | time / shipped ecg-v4's |\n|---|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {runs[k][1] or '(shipped)'} | {min(v):.3f} | {min(v) / base:.2f} |")


if __name__ == "__main__":
    main()
