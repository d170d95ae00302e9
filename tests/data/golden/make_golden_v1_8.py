"""Write the format-1.8 golden files (the binding bIND, and the digests dSIG and dNOT). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_8.py       # refuses when v1.8/ already holds files

Written with the frozen models of v1.7 (ECG, with its stage priors) and v1.6 (MIDI); no model is copied again.
What it writes into v1.8/:
  ecg_q2.vqc                  2 channels, 1000 samples, NaN runs, quality 2 (bigram-rans-2): bound, no dSIG
  ecg_e2.vqc, ecg_lossless.vqc the same signal with --max-error 2 and --lossless: bound, dSIG over the samples
  piano_q3.vqc                the made-up performance of make_golden_v1_3.py at level 3: bound, dNOT
  <name>.expected.npy         the decoded ECG samples [T, C] (exact for the bounded files; within a tolerance
                              of onnxruntime's floats for q2)
  expected.json               per file: its sha256, minor, and for MIDI the decoded note table (exact)
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
sys.path.insert(0, str(HERE))

from make_golden_v1_3 import performance  # noqa: E402

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402

OUT = HERE / "v1.8"
ECG_MODEL = HERE / "v1.7" / "model"
MIDI_MODEL = HERE / "v1.6" / "model"
TOLERANCE_ADC_STEPS = 2


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = Codec.load(ECG_MODEL, threads=1)
    sig = make_signal(1000, channels=2, seed=7)
    sig.samples[:5, 0] = np.nan
    sig.samples[400:430, 1] = np.nan
    files = {"ecg_q2": codec.compress(sig, 2).data, "ecg_e2": codec.compress(sig, max_error=2).data,
             "ecg_lossless": codec.compress(sig, max_error=0).data}
    expected: dict[str, dict] = {}
    for name, data in files.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        np.save(OUT / f"{name}.expected.npy", codec.decompress(data, name).samples, allow_pickle=False)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "exact": name != "ecg_q2", "tolerance_adc_steps": TOLERANCE_ADC_STEPS}
    midi = NoteCodec.load(MIDI_MODEL)
    data = midi.compress(performance(), 3, name="piano").data
    (OUT / "piano_q3.vqc").write_bytes(data)
    perf = midi.decompress(data)
    expected["piano_q3"] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                            "pitch": perf.pitch.tolist(), "onset": perf.onset.tolist(),
                            "offset": perf.offset.tolist(), "velocity": perf.velocity.tolist()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
