"""Issue-6 measurement: the error-bounded residual layer on every mitdb `test` record, through the CLI.

    python benchmarks/ecg_bounded.py --data ../shared/data --out benchmarks/results/ecg-bounded.md

For each max error E (ADC units; 0 is --lossless): `vqcodec compress --max-error E`, `vqcodec decompress`,
then the decoded WFDB record's ADC samples are compared with the original's on every valid sample of both
leads (bit-exact for E = 0). Rates count the whole .vqc file. Beside them: SZ3 with the same absolute bound
and FLAC (lossless), each through its real library on the same samples, and the CLI wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import vqcodec
from vqcodec.bench.baselines import Flac, Sz3
from vqcodec.bench.ecg import filled_digital

from ecg_cli import emit, metadata_matches, preamble, run

MAX_ERRORS = (0, 1, 2, 5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--max-errors", default=",".join(map(str, MAX_ERRORS)))
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    mitdb = Path(args.data) / "ecg" / "mitdb"
    records = [str(r) for r in json.loads((mitdb / "SPLITS.json").read_text())[args.split]]
    bounds = [int(e) for e in args.max_errors.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for e in bounds:
            for r in records:
                vqc, out = Path(tmp) / f"{r}-e{e}.vqc", Path(tmp) / f"{r}-e{e}"
                t0 = time.perf_counter()
                run("compress", str(mitdb / f"{r}.hea"), "-o", str(vqc), "--max-error", str(e))
                t1 = time.perf_counter()
                run("decompress", str(vqc), "-o", str(out))
                t2 = time.perf_counter()
                orig, dec = vqcodec.read(mitdb / f"{r}.hea"), vqcodec.read(f"{out}.hea")
                valid = ~np.isnan(orig.samples)
                err = int(np.abs(orig.digital() - dec.digital())[valid].max())
                n = orig.samples.size
                digital = filled_digital(orig)
                other = Flac() if e == 0 else Sz3(e)
                other_bytes = len(other.encode(digital, orig.fs))
                results.append({
                    "record": r, "max_error": e, "bytes": vqc.stat().st_size,
                    "bits_per_sample": 8 * vqc.stat().st_size / n, "max_abs_error": err,
                    "exact": bool(np.array_equal(np.isnan(orig.samples), np.isnan(dec.samples)) and err == 0),
                    "metadata_ok": metadata_matches(orig, dec), "other": other.name,
                    "other_bits_per_sample": 8 * other_bytes / n, "compress_s": t1 - t0, "decompress_s": t2 - t1,
                })
                print(f"E={e} {r}: {results[-1]['bits_per_sample']:.3f} b/s max|err| {err} "
                      f"({other.name} {results[-1]['other_bits_per_sample']:.3f})", file=sys.stderr)
    rows = []
    for e in bounds:
        per = [p for p in results if p["max_error"] == e]
        bps = np.mean([p["bits_per_sample"] for p in per])
        obps = np.mean([p["other_bits_per_sample"] for p in per])
        rows.append(
            f"| {'0 (--lossless)' if e == 0 else e} | {bps:.3f} | {11 / bps:.2f} | {per[0]['other']} | {obps:.3f} | "
            f"{11 / obps:.2f} | {max(p['max_abs_error'] for p in per)} | "
            f"{all(p['exact'] for p in per) if e == 0 else all(p['max_abs_error'] <= e for p in per)} | "
            f"{all(p['metadata_ok'] for p in per)} | {np.median([p['compress_s'] for p in per]):.2f} / "
            f"{np.median([p['decompress_s'] for p in per]):.2f} |")
    lines = [
        *preamble(f"vqcodec --max-error through the CLI on the mitdb `{args.split}` split"),
        f"Records: {' '.join(records)} (whole records, both leads). Bits/sample and CR (against 11 bits) are means "
        "over the records of the whole file; max |error| is over every valid sample of every record, in ADC units. "
        "Times are the median CLI wall time per record (30 min, 2 leads), process start included.", "",
        "| max error E | vqcodec bits/sample | CR | other | other bits/sample | other CR | max abs error seen | "
        "bound kept (E=0: bit-exact) | metadata kept | compress / decompress s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Per record:", "",
        "| E | record | bytes | bits/sample | max abs error | other bits/sample |", "|---|---|---|---|---|---|",
        *[f"| {p['max_error']} | {p['record']} | {p['bytes']} | {p['bits_per_sample']:.3f} | {p['max_abs_error']} | "
          f"{p['other_bits_per_sample']:.3f} |" for p in results],
    ]
    emit(lines, results, args.out, args.json)


if __name__ == "__main__":
    main()
