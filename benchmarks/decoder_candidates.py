"""Decoder candidates for a faster ECG model: onnxruntime time of untrained decoders of other widths against the
shipped ecg-v4 decoder, on one input, interleaved, best of 4 (what the arithmetic costs, before any training).

    python benchmarks/decoder_candidates.py

Each candidate is exported and rewritten into the runtime's CPU form (training.cpu_graph) exactly as
training.export does; the input is 2 leads x 4,146 frames (a 4,096-frame decoder chunk plus margins).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from training.cpu_graph import rewrite_file
from training.nets import Decoder
from vqcodec.models.runtime import session

CANDIDATES = {"ecg-v4's [32,64,96,128] (untrained)": ([32, 64, 96, 128], [1, 3]),
              "[16,32,64,128]": ([16, 32, 64, 128], [1, 3]), "[16,32,64,96]": ([16, 32, 64, 96], [1, 3]),
              "[16,24,48,96]": ([16, 24, 48, 96], [1, 3]), "[16,32,48,64]": ([16, 32, 48, 64], [1, 3]),
              "[32,64,96,128], dilations [1]": ([32, 64, 96, 128], [1]),
              "[16,32,64,128], dilations [1]": ([16, 32, 64, 128], [1])}
"""name -> (channels, dilations); strides [2, 2, 2] and latent 64 as ecg-v4."""
SHIPPED = Path(__file__).resolve().parents[1] / "vqcodec" / "models" / "ecg-v4" / "decoder.onnx"


def main() -> None:
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    runs = {}
    for i, (name, (channels, dilations)) in enumerate(CANDIDATES.items()):
        dec = Decoder(channels, [2, 2, 2], 64, dilations).eval()
        path = tmp / f"d{i}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(dec, (torch.zeros(1, 64, 4),), str(path), dynamo=False, input_names=["latent"],
                              output_names=["signal"], opset_version=17,
                              dynamic_axes={"latent": {0: "batch", 2: "frames"}, "signal": {0: "batch", 2: "samples"}})
        rewrite_file(path)
        runs[name] = (session(path), sum(p.numel() for p in dec.parameters()))
    runs["shipped ecg-v4"] = (session(SHIPPED), 0)
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
