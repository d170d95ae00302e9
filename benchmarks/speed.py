"""Speed: CLI compress and decompress of one 30-minute 2-lead record, median of 3 runs.

    python benchmarks/speed.py --record ../shared/data/ecg/mitdb/103

Wall time of the whole `vqcodec` process (start-up included), as a user sees it.
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


def timed(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vqcodec", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--record", required=True)
    ap.add_argument("--quality", default=None)
    ap.add_argument("--model", default="ecg")
    args = ap.parse_args()
    sig = vqcodec.read(args.record)
    n = sig.n_samples * sig.n_channels
    q = ["-q", args.quality] if args.quality else []
    with tempfile.TemporaryDirectory() as tmp:
        vqc, out = Path(tmp) / "r.vqc", Path(tmp) / "r"
        enc = [timed("compress", args.record, "-o", str(vqc), "--force", "--model", args.model, *q)
               for _ in range(REPEATS)]
        dec = [timed("decompress", str(vqc), "-o", str(out), "--force", "--model", args.model) for _ in range(REPEATS)]
    e, d = statistics.median(enc), statistics.median(dec)
    print(f"record {args.record}: {sig.n_channels} leads x {sig.n_samples} samples ({sig.duration / 60:.1f} min); "
          f"{platform.machine()}, {os.cpu_count()} cores")
    print(f"compress   median {e:.2f} s ({n / e:,.0f} samples/s)  runs {[round(x, 2) for x in enc]}")
    print(f"decompress median {d:.2f} s ({n / d:,.0f} samples/s)  runs {[round(x, 2) for x in dec]}")


if __name__ == "__main__":
    main()
