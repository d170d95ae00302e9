"""Cross-database check: every LUDB record (500 Hz, 12 leads, 10 s) through compress/decompress.

    python benchmarks/ludb.py --data ../shared/data

The model was trained on 360 Hz MIT-BIH; LUDB is resampled to 360 Hz and back, and distortion is measured
at 500 Hz on the decoded WFDB record written to disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import vqcodec
from vqcodec.metrics import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--model", default="ecg")
    ap.add_argument("--quality", type=int, default=None)
    args = ap.parse_args()
    ludb = Path(args.data) / "ecg" / "ludb" / "data"
    names = (ludb.parent / "RECORDS").read_text().split()
    codec = vqcodec.Codec.load(args.model)
    prdn, cr, failures = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rec = ludb / Path(name).name
            try:
                sig = vqcodec.read(rec)
                data, _ = codec.compress(sig, args.quality)
                (Path(tmp) / "r.vqc").write_bytes(data)
                out = codec.decompress((Path(tmp) / "r.vqc").read_bytes())
                vqcodec.write(Path(tmp) / "r", out, force=True)
                back = vqcodec.read(Path(tmp) / "r")
                rep = compare(sig, back, len(data))
                assert back.samples.shape == sig.samples.shape
                prdn.append(rep.prdn)
                cr.append(rep.cr)
            except (vqcodec.VqcError, AssertionError) as e:
                failures.append(f"{name}: {e}")
    q = args.quality or codec.default_quality
    print(f"LUDB: {len(prdn)}/{len(names)} records round-tripped at quality {q}; {len(failures)} failures")
    print(f"mean PRDN {np.mean(prdn):.2f} % (median {np.median(prdn):.2f}, worst {np.max(prdn):.2f}); "
          f"mean CR {np.mean(cr):.2f} against the ADC resolution (adc_res, or the fmt width when 0)")
    for f in failures:
        print(f, file=sys.stderr)


if __name__ == "__main__":
    main()
