"""Write the format-1.7 golden files (entropy-coded indices, section IDXC). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_7.py       # refuses when v1.7/ already holds files

The frozen v1 model (v1/model/) had no index prior, so no golden file held IDXC. v1.7/model/ is that model
with an index prior added by training/priors.py (counted on two synthetic signals), then a prior per stage
count; the first step's id stays in its compatible_ids. What it writes into v1.7/:
  ecg_rans1.vqc               2 channels, 1000 samples, NaN runs, quality 2, coded before the stage priors
                              were added: IDXC bigram-rans-1, format 1.2
  ecg_rans2_q<q>.vqc          the same signal at quality 1, 2, 3 (1, 2, 3 stages): bigram-rans-2, format 1.7
  <name>.expected.npy         the decoded samples [T, C] (onnxruntime floats: compared within a tolerance)
  expected.json               per file: the sha256 of its decoded indices (exact), shape, tolerance
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from training.priors import add_priors, add_stage_priors, count_bigrams, stage_counts  # noqa: E402
from vqcodec.container import format as vqc  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "v1.7"
STAGE_LAMS = [0.3, 0.1, 0.0]
TOLERANCE_ADC_STEPS = 2


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    model = OUT / "model"
    shutil.copytree(HERE / "v1" / "model", model)
    counted = [make_signal(3000, channels=2, seed=s) for s in (11, 12)]
    add_priors(model, count_bigrams(Codec.load(model, threads=1), counted), "make_golden_v1_7.py")
    sig = make_signal(1000, channels=2, seed=7)
    sig.samples[:5, 0] = np.nan
    sig.samples[400:430, 1] = np.nan
    files = {"ecg_rans1": Codec.load(model, threads=1).compress(sig, 2)[0]}
    add_stage_priors(model, stage_counts(Codec.load(model, threads=1), counted, STAGE_LAMS), STAGE_LAMS, 1,
                     "make_golden_v1_7.py")
    codec = Codec.load(model, threads=1)
    files.update({f"ecg_rans2_q{q}": codec.compress(sig, q)[0] for q in (1, 2, 3)})
    expected = {}
    for name, data in files.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        np.save(OUT / f"{name}.expected.npy", codec.decompress(data, name).samples, allow_pickle=False)
        f = vqc.loads(data, name)
        expected[name] = {"index_coding": f.index_coding, "minor": data[10],
                          "indices_sha256": hashlib.sha256(codec.file_indices(f, name).astype("<u2").tobytes())
                          .hexdigest(), "n_samples": sig.n_samples, "n_channels": sig.n_channels,
                          "tolerance_adc_steps": TOLERANCE_ADC_STEPS, "file_sha256": hashlib.sha256(data).hexdigest()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
