"""Write the format-1.11 golden files: the residual layer coded block by block (RESB). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_11.py       # refuses when v1.11/ already holds files

Written with the frozen ECG model of v1.7; no model is copied again. The residual block is set to GOLDEN_BLOCK
samples (the header stores it), not the release's RESIDUAL_BLOCK_SAMPLES, so that a record of a few seconds holds
several blocks, the last one shorter, and a decoder is seen to take the block length from the file. What it writes
into v1.11/:
  lossless.vqc                 `--lossless`: every sample by the residual layer alone (no model layer), 2 leads
  e5.vqc                       `--max-error 5`: the residual layer around the model's output at its default level
  expected.json                per file: its sha256, minor, residual block, block count and code stages, and the
                               sha256 of its decoded digital samples (exact: the residual layer bounds every sample,
                               and its digest dSIG is checked on every decode)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.coding import residual  # noqa: E402
from vqcodec.ecg import file as ecg_file  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

OUT = HERE / "v1.11"
ECG_MODEL = HERE / "v1.7" / "model"
GOLDEN_BLOCK = 3 * residual.LANE_SAMPLES
"""Samples per residual block in these files: 6144, so the 20000-sample record holds four (the last 1568)."""
SAMPLES = 20000


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = Codec.load(ECG_MODEL, threads=1)
    sig = make_signal(SAMPLES, channels=2, seed=31)
    sig.samples[3000:3100, 1] = np.nan  # a run of invalid samples, across no block edge
    sig.samples[6100:6200, 0] = np.nan  # and one across the first block edge
    ecg_file.RESIDUAL_BLOCK_SAMPLES = GOLDEN_BLOCK
    made = {"lossless": codec.compress(sig, max_error=0, name="golden").data,
            "e5": codec.compress(sig, max_error=5, name="golden").data}
    expected: dict[str, dict] = {}
    for name, data in made.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        f = ecg_file.loads(data, name)
        assert f.residual_blocks is not None and f.meta.residual_block == GOLDEN_BLOCK
        decoded = codec.decompress(data, name)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "residual_block": GOLDEN_BLOCK, "blocks": len(f.residual_blocks),
                          "n_stages": f.header.n_stages,
                          "digital_sha256": hashlib.sha256(decoded.digital().astype("<i8").tobytes()).hexdigest()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
