"""Write the format-1.10 golden files: signals coded without the model (AUXS) and an EDF file's own bytes (eDFH,
eDFA). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_10.py       # refuses when v1.10/ already holds files

Written with the frozen ECG model of v1.7; no model is copied again. What it writes into v1.10/:
  synth.edf                    an EDF+ file written by pyedflib: two ECG leads at 360 Hz (10 s, 1 s records), a
                               respiration signal at 25 Hz and a blood pressure at 120 Hz (not ECG), three annotations
  edf_lossless.vqc             `vqcodec compress synth.edf --lossless`: every signal by the residual layer alone
  edf_q2.vqc                   `vqcodec compress synth.edf -q 2`: the leads by the model, respiration and blood
                               pressure lossless as aux signals
  <name>.expected.npy          the decoded ECG samples [T, 2] (exact for the lossless file; within a tolerance of
                               onnxruntime's floats for q2)
  expected.json                per file: its sha256 and minor, the sha256 of the EDF file it decodes to (lossless:
                               synth.edf's) and of each aux signal's decoded digital samples
"""

from __future__ import annotations

import datetime
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
from vqcodec.ecg.codec import Codec  # noqa: E402

OUT = HERE / "v1.10"
ECG_MODEL = HERE / "v1.7" / "model"
TOLERANCE_ADC_STEPS = 2
SECONDS = 10


def write_edf(path: Path) -> None:
    """synth.edf, by pyedflib (the [edf] extra)."""
    import pyedflib

    sig = make_signal(SECONDS * 360, channels=2, seed=21)
    d = sig.digital()
    t = np.arange(SECONDS * 25) / 25
    resp = np.rint(2000 * np.sin(2 * np.pi * 0.25 * t)).astype(np.int64)
    bp = np.rint(9000 + 6000 * np.sin(2 * np.pi * 1.2 * np.arange(SECONDS * 120) / 120)).astype(np.int64)
    ecg = [{"label": f"ECG {n}", "dimension": "mV", "sample_frequency": 360, "physical_min": -163.84,
            "physical_max": 163.835, "digital_min": -32768, "digital_max": 32767, "transducer": "AgAgCl electrode",
            "prefilter": "HP:0.5Hz LP:40Hz"} for n in ("II", "V5")]
    others = [{"label": "Resp chest", "dimension": "uV", "sample_frequency": 25, "physical_min": -5000.0,
               "physical_max": 5000.0, "digital_min": -32768, "digital_max": 32767, "transducer": "belt",
               "prefilter": ""},
              {"label": "BP finger", "dimension": "mmHg", "sample_frequency": 120, "physical_min": 0.0,
               "physical_max": 300.0, "digital_min": -32768, "digital_max": 32767, "transducer": "Finapres",
               "prefilter": ""}]
    w = pyedflib.EdfWriter(str(path), 4, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders(ecg + others)
        w.setStartdatetime(datetime.datetime(2002, 3, 2, 10, 11, 12))
        w.setPatientCode("GOLDEN-1")
        w.setEquipment("synth")
        w.writeAnnotation(1.5, -1, "lights off")
        w.writeAnnotation(4.25, 2.0, "arousal")
        w.writeAnnotation(8.0, -1, "Beat N")
        w.writeSamples([(d[:, 0] - 1024).astype(np.int32), (d[:, 1] - 1024).astype(np.int32),
                        resp.astype(np.int32), bp.astype(np.int32)], digital=True)
    finally:
        w.close()


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = Codec.load(ECG_MODEL, threads=1)
    write_edf(OUT / "synth.edf")
    made = {"edf_lossless": compress_edf(OUT / "synth.edf", codec, max_error=0).data,
            "edf_q2": compress_edf(OUT / "synth.edf", codec, 2).data}
    expected: dict[str, dict] = {}
    for name, data in made.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        decoded = codec.decompress(data, name)
        np.save(OUT / f"{name}.expected.npy", decoded.samples, allow_pickle=False)
        with tempfile.TemporaryDirectory() as tmp:
            edf = decompress_edf(data, Path(tmp) / "back.edf", codec)[0].read_bytes()
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "exact": name == "edf_lossless", "tolerance_adc_steps": TOLERANCE_ADC_STEPS,
                          "edf_sha256": hashlib.sha256(edf).hexdigest(),
                          "aux": {a.channel.name: hashlib.sha256(a.digital().astype("<i8").tobytes()).hexdigest()
                                  for a in decoded.aux}}
    assert expected["edf_lossless"]["edf_sha256"] == hashlib.sha256((OUT / "synth.edf").read_bytes()).hexdigest()
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
