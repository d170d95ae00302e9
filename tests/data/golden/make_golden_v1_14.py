"""Write the format-1.14 golden files: the aux signals coded block by block (AUXB). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_14.py       # refuses when v1.14/ already holds files

Written with the frozen ECG model of v1.7; no model is copied again. The aux block is set to GOLDEN_AUX_BLOCK samples
(the header stores it), not the release's AUX_BLOCK_SAMPLES, so that signals of a few seconds hold several aux
blocks, the last one shorter, and a decoder is seen to take the block length from the file; the residual block is
v1.11's 6144 samples. The record: two ECG leads and a blood pressure channel (mmHg, which the model does not take) at
360 Hz, 20000 samples, and a respiration signal (litres) at 90 Hz, 5000 samples; runs of invalid samples across aux
block edges in both. What it writes into v1.14/:
  e5.vqc                       `--max-error 5`: the leads by the residual layer around the model's output, the blood
                               pressure and the respiration without the model within 5 ADC units, in aux blocks
  lossless.vqc                 `--lossless`: the three 360 Hz channels by the residual layer alone, the respiration
                               lossless in aux blocks
  edf_lossless.vqc             `vqcodec compress v1.10/synth.edf --lossless`: its respiration at 25 Hz and blood
                               pressure at 120 Hz in aux blocks; decodes to synth.edf byte for byte
  expected.json                per file: its sha256 and minor, the aux and residual block lengths, each aux
                               signal's block count, and the sha256 of the decoded digital samples (exact: the
                               residual layer bounds every sample) of the channels and of each aux signal; for the
                               EDF file the sha256 of the EDF file it decodes to
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.api import compress_edf, decompress_edf  # noqa: E402
from vqcodec.coding import residual  # noqa: E402
from vqcodec.ecg import file as ecg_file  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402
from vqcodec.ecg.signal import AuxChannel, ChannelInfo, Signal  # noqa: E402

OUT = HERE / "v1.14"
ECG_MODEL = HERE / "v1.7" / "model"
EDF = HERE / "v1.10" / "synth.edf"
GOLDEN_AUX_BLOCK = 512
"""Samples per aux block in these files: the 20000-sample blood pressure holds 40 (the last 32), the 5000-sample
respiration 10 (the last 392)."""
GOLDEN_RESIDUAL_BLOCK = 3 * residual.LANE_SAMPLES
SAMPLES = 20000


def golden_signal() -> Signal:
    """The record described above."""
    sig = make_signal(SAMPLES, channels=3, seed=41)
    sig.channels[1] = ChannelInfo("ABP", "mmHg", 100.0, 0, 16, 0, "16")
    sig.samples[:, 1] = np.rint(100 * (90 + 30 * np.sin(np.arange(SAMPLES) / 50))) / 100
    sig.samples[1000:1050, 1] = np.nan  # across the aux block edge at 1024
    t = np.arange(SAMPLES // 4) / 90
    resp = np.rint(1000 * (0.4 * np.sin(2 * np.pi * 0.25 * t) + 0.02 * np.sin(2 * np.pi * 3.1 * t))) / 1000
    resp[500:530] = np.nan  # across the aux block edge at 512
    resp[-3:] = np.nan
    sig.aux = [AuxChannel(3, sig.fs / 4, ChannelInfo("RESP", "l", 1000.0, 0, 16, 0, "16"), resp)]
    return sig


def _sha(digital: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(digital, "<i8").tobytes()).hexdigest()


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = Codec.load(ECG_MODEL, threads=1)
    ecg_file.AUX_BLOCK_SAMPLES = GOLDEN_AUX_BLOCK
    ecg_file.RESIDUAL_BLOCK_SAMPLES = GOLDEN_RESIDUAL_BLOCK
    sig = golden_signal()
    made = {"e5": codec.compress(sig, max_error=5, name="golden").data,
            "lossless": codec.compress(sig, max_error=0, name="golden").data,
            "edf_lossless": compress_edf(EDF, codec, max_error=0).data}
    expected: dict[str, dict] = {}
    for name, data in made.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        f = ecg_file.loads(data, name)
        assert f.meta.aux_block == GOLDEN_AUX_BLOCK and all(a.blocks for a in f.aux)
        decoded = codec.decompress(data, name)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "aux_block": GOLDEN_AUX_BLOCK, "residual_block": f.meta.residual_block,
                          "aux_blocks": {i.channel.name: len(a.blocks or []) for i, a in zip(f.meta.aux, f.aux)},
                          "channels": [ch.name for ch in decoded.channels],
                          "digital_sha256": _sha(decoded.digital()),
                          "aux": {a.channel.name: _sha(a.digital()) for a in decoded.aux}}
        if name.startswith("edf"):
            with tempfile.TemporaryDirectory() as tmp:
                edf = decompress_edf(data, Path(tmp) / "back.edf", codec)[0].read_bytes()
            assert edf == EDF.read_bytes()
            expected[name]["edf_sha256"] = hashlib.sha256(edf).hexdigest()
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
