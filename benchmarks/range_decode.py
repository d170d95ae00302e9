"""Decoding a time range against decoding the whole record, in one run on one machine (a ratio, not a timing).

    python benchmarks/range_decode.py --record DATA/ecg/mitdb/103 --start 600 --end 720
    python benchmarks/range_decode.py --vqc long.vqc --start 43200 --end 43320 --runs 1

Compresses the record at the default level once (or takes a .vqc file made already), then times
`vqcodec.decompress(file)` and `vqcodec.decompress(file, start=, stop=)` (the median of --runs each, the model
loaded once) and checks that the range is the whole decode's samples.
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
    p.add_argument("--record", type=Path, help="a record to compress first")
    p.add_argument("--vqc", type=Path, help="or a .vqc file written already (a long record's)")
    p.add_argument("--runs", type=int, default=3, help="timings per decode (their median)")
    p.add_argument("--start", type=float, default=600.0, help="seconds")
    p.add_argument("--end", type=float, default=720.0, help="seconds")
    a = p.parse_args()
    if (a.record is None) == (a.vqc is None):
        p.error("give --record or --vqc")
    codec = vqcodec.Codec.load("ecg")
    data = codec.compress(vqcodec.read(a.record)).data if a.record else a.vqc.read_bytes()
    found = vqcodec.info(data)
    lo, hi = round(a.start * found.fs), round(a.end * found.fs)

    def timed(**kw: int) -> tuple[float, np.ndarray]:
        runs = []
        for _ in range(a.runs):
            t = time.perf_counter()
            out = vqcodec.decompress(data, codec, **kw)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs), out.samples

    whole_s, whole = timed()
    part_s, part = timed(start=lo, stop=hi)
    same = np.array_equal(part, whole[lo:hi], equal_nan=True)
    name = (a.record or a.vqc).name
    print(f"{name}: {found.duration / 60:.1f} min, {len(found.channels)} leads; whole decode "
          f"{whole_s:.2f} s; samples {lo}..{hi - 1} ({a.start:g}-{a.end:g} s) {part_s:.2f} s = "
          f"{part_s / whole_s:.3f} of the whole; identical to the whole decode's samples: {same}")


if __name__ == "__main__":
    main()
