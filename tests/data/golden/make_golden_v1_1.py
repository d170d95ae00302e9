"""Write the format-1.1 golden files (residual layer, section RESD). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_1.py       # refuses when v1.1/ already holds files

Same promise as make_golden.py: tests/container/test_golden.py reads these and never regenerates them. They are
written with the frozen v1 model (v1/model/), so no model is duplicated.

What it writes into v1.1/:
  ecg_lossless.vqc            2 channels, 1000 samples, NaN runs; --lossless (no model layer, n_stages 0)
  ecg_bounded.vqc             the same signal, --max-error 3 (model layer + residual layer)
  <name>.expected.npy         the decoded ADC samples [T, C] int64 (invalid samples as 0): exact, not a tolerance
  expected.json               per file: max error, shape, the input's sha256
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "v1.1"
MAX_ERRORS = {"ecg_lossless": 0, "ecg_bounded": 3}


def write(out: Path, max_errors: dict[str, int]) -> None:
    """Write one golden folder: each named file at its max error, the decoded samples and expected.json."""
    if any(out.glob("*.vqc")):
        sys.exit(f"{out} already holds golden files; they are never regenerated (add a new folder instead)")
    out.mkdir(parents=True, exist_ok=True)
    codec = Codec.load(HERE / "v1" / "model", threads=1)
    sig = make_signal(1000, channels=2, seed=7)
    sig.samples[:5, 0] = np.nan
    sig.samples[400:430, 1] = np.nan
    expected = {}
    for name, max_error in max_errors.items():
        sig.record_name = name
        data = codec.compress(sig, max_error=max_error)[0]
        (out / f"{name}.vqc").write_bytes(data)
        np.save(out / f"{name}.expected.npy", codec.decompress(data, name).digital(), allow_pickle=False)
        expected[name] = {"max_error": max_error, "n_samples": sig.n_samples, "n_channels": sig.n_channels,
                          "input_digital_sha256": hashlib.sha256(sig.digital().astype("<i8").tobytes()).hexdigest(),
                          "file_sha256": hashlib.sha256(data).hexdigest()}
    np.save(out / "input.npy", sig.digital(), allow_pickle=False)
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


def main() -> None:
    write(OUT, MAX_ERRORS)


if __name__ == "__main__":
    main()
