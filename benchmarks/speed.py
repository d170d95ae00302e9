"""Speed: CLI compress and decompress of one 30-minute 2-lead record, median of 3 runs; with several models,
each model's time and its ratio to the first's, measured in one run.

    python benchmarks/speed.py --record ../shared/data/ecg/mitdb/103
    python benchmarks/speed.py --record ../shared/data/ecg/mitdb/103 --models ecg-v4,vqcodec/models/ecg-v5

Wall time of the whole `vqcodec` process (start-up included), as a user sees it. With several models the runs
are interleaved (A B A B ...), so a machine that slows down or speeds up during the run moves every model alike:
the ratios are what to compare across machines, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import vqcodec

REPEATS = 3


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""As a user's shell has it: Python's bytecode cache on (with it off, every run compiles vqcodec's modules anew,
0.17 s of each run here), and written by an untimed first run."""


def timed(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vqcodec", *args], check=True, capture_output=True, env=ENV)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", required=True)
    ap.add_argument("--quality", default=None)
    ap.add_argument("--model", default=None, help="one model (the default ECG model if neither option is given)")
    ap.add_argument("--models", default=None, help="comma-separated models; ratios are to the first")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    args = ap.parse_args()
    models = args.models.split(",") if args.models else [args.model or "ecg"]
    sig = vqcodec.read(args.record)
    n = sig.n_samples * sig.n_channels
    q = ["-q", args.quality] if args.quality else []
    enc: dict[str, list[float]] = {m: [] for m in models}
    dec: dict[str, list[float]] = {m: [] for m in models}
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.vqc"  # an untimed round trip imports everything, so the bytecode cache holds it
        timed("compress", args.record, "-o", str(warm), "--force", "--model", models[0], *q)
        timed("decompress", str(warm), "-o", str(Path(tmp) / "warm"), "--force", "--model", models[0])
        for _ in range(args.repeats):
            for i, m in enumerate(models):
                vqc, out = Path(tmp) / f"r{i}.vqc", Path(tmp) / f"r{i}"
                enc[m].append(timed("compress", args.record, "-o", str(vqc), "--force", "--model", m, *q))
                dec[m].append(timed("decompress", str(vqc), "-o", str(out), "--force", "--model", m))
    print(f"record {args.record}: {sig.n_channels} leads x {sig.n_samples} samples ({sig.duration / 60:.1f} min); "
          f"{platform.machine()}, {os.cpu_count()} cores")
    e0, d0 = statistics.median(enc[models[0]]), statistics.median(dec[models[0]])
    for m in models:
        e, d = statistics.median(enc[m]), statistics.median(dec[m])
        ratio = f"  ({e / e0:.2f} / {d / d0:.2f} of {models[0]}'s)" if len(models) > 1 else ""
        print(f"{m}: compress median {e:.2f} s ({n / e:,.0f} samples/s), decompress median {d:.2f} s "
              f"({n / d:,.0f} samples/s){ratio}  runs {[round(x, 2) for x in enc[m]]} {[round(x, 2) for x in dec[m]]}")


if __name__ == "__main__":
    main()
