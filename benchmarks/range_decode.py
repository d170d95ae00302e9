"""Decoding a time range against decoding the whole record, in one run on one machine (a ratio, not a timing).

    python benchmarks/range_decode.py --record DATA/ecg/mitdb/103 --start 600 --end 720

Compresses the record at the default level once, then times `vqcodec.decompress(file)` and
`vqcodec.decompress(file, start=, stop=)` (median of 3 each, the model loaded once) and checks that the range is
the whole decode's samples.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import vqcodec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--record", type=Path, required=True)
    p.add_argument("--start", type=float, default=600.0, help="seconds")
    p.add_argument("--end", type=float, default=720.0, help="seconds")
    a = p.parse_args()
    codec = vqcodec.Codec.load("ecg")
    sig = vqcodec.read(a.record)
    data = codec.compress(sig).data
    lo, hi = round(a.start * sig.fs), round(a.end * sig.fs)

    def timed(**kw: int) -> tuple[float, np.ndarray]:
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            out = vqcodec.decompress(data, codec, **kw)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs), out.samples

    whole_s, whole = timed()
    part_s, part = timed(start=lo, stop=hi)
    same = np.array_equal(part, whole[lo:hi], equal_nan=True)
    print(f"{a.record.name}: {sig.n_samples / sig.fs / 60:.1f} min, {sig.n_channels} leads; whole decode "
          f"{whole_s:.2f} s; samples {lo}..{hi - 1} ({a.start:g}-{a.end:g} s) {part_s:.2f} s = "
          f"{part_s / whole_s:.3f} of the whole; identical to the whole decode's samples: {same}")


if __name__ == "__main__":
    main()
