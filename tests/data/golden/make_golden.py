"""Write the v1 golden files. Run ONCE per format version; never re-run for an existing folder.

    python tests/data/golden/make_golden.py            # refuses when v1/ already holds files

Golden files are a compatibility promise (docs/FORMAT.md): every file written by format 1.x must decode with
every later vqcodec. tests/container/test_golden.py reads them and never regenerates them. A new format version adds
a new folder (v2/) and keeps this one. The tiny model that wrote them is frozen next to them (v1/model/).

What it writes into v1/:
  model/                      the tiny bundle (trained a few steps on synthetic ECG, exported as tests/helpers/tiny.py does)
  ecg_short.vqc               2 channels, 1000 samples at the model rate (360 Hz), NaN runs at the start and middle
  ecg_500hz.vqc               1 channel, 700 samples at 500 Hz (goes through resampling)
  <name>.expected.npy         the decoded samples [T, C] float64 (NaN where invalid) at generation time
  expected.json               per file: sha256 of the packed indices of every block, shape, fs, tolerance
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from tests.helpers.tiny import train_tiny  # noqa: E402
from vqcodec.container import bitpack  # noqa: E402
from vqcodec.container import format as vf  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402
from vqcodec.ecg.signal import Signal  # noqa: E402

OUT = Path(__file__).parent / "v1"
TOLERANCE_ADC_STEPS = 2
"""Allowed |decoded - expected| in ADC steps of each channel (onnxruntime is not bit-exact across CPUs)."""


def index_digests(data: bytes) -> list[str]:
    """sha256 of each block's packed indices: exact, unlike the floats the model produces."""
    f = vf.loads(data)
    return [hashlib.sha256(bitpack.pack(b, f.header.bits_per_index)).hexdigest() for b in f.blocks]


def signals() -> dict[str, Signal]:
    short = make_signal(1000, channels=2)
    short.record_name = "ecg_short"
    short.samples[:5, 0] = np.nan
    short.samples[400:430, 1] = np.nan
    fast = make_signal(700, channels=1, fs=500.0, seed=3)
    fast.record_name = "ecg_500hz"
    return {"ecg_short": short, "ecg_500hz": fast}


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add v2/ instead)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(train_tiny(Path(tmp), "tests/data/golden/make_golden.py"), OUT / "model")
    codec = Codec.load(OUT / "model", threads=1)
    expected = {}
    for name, sig in signals().items():
        data = codec.compress(sig)[0]
        (OUT / f"{name}.vqc").write_bytes(data)
        decoded = codec.decompress(data, name)
        np.save(OUT / f"{name}.expected.npy", decoded.samples, allow_pickle=False)
        expected[name] = {
            "n_samples": sig.n_samples, "n_channels": sig.n_channels, "fs": sig.fs,
            "block_index_sha256": index_digests(data), "tolerance_adc_steps": TOLERANCE_ADC_STEPS,
            "file_sha256": hashlib.sha256(data).hexdigest(),
        }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
