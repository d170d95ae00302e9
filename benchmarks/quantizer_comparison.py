"""Val-split report for the quantiser comparison runs: PRDN, bits/frame, code/level utilisation.

`VQCODEC_DATA=/work/shared/data python benchmarks/quantizer_comparison.py runs/compare/rvq-1x256 ...`
reads each run's best.pt (selected on val by training.train) and prints one markdown row per run and
number of stages. Uses the `val` split only (first data.val_samples samples of each lead), never `test`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from training.data import data_root, load_record_channels, mitdb_split, normalized_channels
from training.model import VQVAE
from training.train import evaluate


def entropy_bits(idx: np.ndarray, n: int) -> float:
    """Empirical entropy (bits) of the indices, i.e. log2 of the codebook perplexity."""
    p = np.bincount(idx, minlength=n).astype(np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


@torch.no_grad()
def report(run: Path, root: Path | None, cache: dict) -> list[str]:
    ck = torch.load(run / "best.pt", weights_only=False)
    cfg = ck["config"]
    d, m = cfg["data"], cfg["model"]
    key = (d["val_split"], d["val_samples"], d["block_samples"])
    if key not in cache:
        recs = mitdb_split(root, d["val_split"])
        cache[key] = normalized_channels(load_record_channels(root, recs, d["val_samples"]), d["block_samples"])
    val = cache[key]
    model = VQVAE(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    q = model.quantizer
    ev = evaluate(model, val)
    model.eval()
    idx = torch.cat([q(model.encoder(torch.from_numpy(x)[None, None]))[1][0] for x in val], 1).numpy()  # [S, N]
    kind = m.get("quantizer", "rvq")
    rows = []
    for s in range(q.stages):
        used = len(np.unique(idx[s]))
        ent = entropy_bits(idx[s], q.codes)
        if kind == "fsq":
            digits = (idx[s][:, None] // q.basis.numpy()) % q.levels.numpy()
            per_dim = "/".join(f"{len(np.unique(digits[:, i]))}of{lv}" for i, lv in enumerate(q.levels_list))
            name, util = f"FSQ {q.levels_list}", f"levels used {per_dim}"
        else:
            name, util = f"RVQ {q.stages}x{q.codes}", f"stage {s + 1}"
        bits = (s + 1) * math.log2(q.codes)
        rows.append(
            f"| {name} | {s + 1} | {bits:.2f} | {ev['prdn'][s]:.2f} | {used}/{q.codes} ({100 * used / q.codes:.1f} %) "
            f"| {ent:.2f} | {util} | {ck['step']} | {ck['elapsed']:.0f} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = data_root(args.data)
    print("| quantiser | stages decoded | bits/frame | val PRDN % | distinct codes on val (stage) | code entropy, bits "
          "| notes | best step | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    cache: dict = {}
    for run in args.runs:
        for row in report(run, root, cache):
            print(row)


if __name__ == "__main__":
    main()
