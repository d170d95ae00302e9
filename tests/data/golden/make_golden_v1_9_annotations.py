"""Write the format-1.9 golden files of an ECG record's own files (aNNO: its annotation files; wHEA: a lossless file's
original header text). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_9_annotations.py    # refuses when v1.9-annotations/ holds files

Written with the frozen ECG model of v1.7; no model is copied again. (Its own folder, not v1.9/: the MIDI payload's
1.9 additions keep theirs.) What it writes into v1.9-annotations/:
  synth.hea, synth.dat         a 2-channel fmt-212 record of 1000 samples, its header written by hand (CRLF line ends,
                               gains without baselines, a comment), not as wfdb writes one
  synth.atr, synth.qrs         two annotation files of it, written by wfdb.wrann
  ecg_lossless.vqc             `vqcodec compress synth --lossless`: aNNO (atr, qrs) and wHEA (synth.hea)
  ecg_q2.vqc                   `vqcodec compress synth -q 2`: aNNO (atr, qrs) only
  <name>.expected.npy          the decoded samples [T, C] (exact for the lossless file; within a tolerance of
                               onnxruntime's floats for q2)
  expected.json                per file: its sha256 and minor, the sha256 of each annotation file and of the header
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import wfdb

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402
from vqcodec.ecg.file import with_record_files  # noqa: E402
from vqcodec.io.annotations import find_annotations  # noqa: E402
from vqcodec.io.wfdb import read_wfdb, write_wfdb  # noqa: E402

OUT = HERE / "v1.9-annotations"
ECG_MODEL = HERE / "v1.7" / "model"
TOLERANCE_ADC_STEPS = 2
RECORD = "synth"


def write_record(folder: Path) -> None:
    """synth.hea (by hand), synth.dat (fmt 212), synth.atr and synth.qrs in `folder`."""
    sig = make_signal(1000, channels=2, seed=11)
    write_wfdb(folder / RECORD, sig)
    digital = sig.digital()
    lines = [f"{RECORD} 2 360 1000"]
    for c in range(2):
        checksum = int(digital[:, c].sum()) % 65536
        checksum -= 65536 if checksum >= 32768 else 0
        lines.append(f"{RECORD}.dat 212 200 11 1024 {digital[0, c]} {checksum} 0 ch{c}")
    lines.append("# a header written by hand, as PhysioNet's are: CRLF, no baseline, this comment")
    (folder / f"{RECORD}.hea").write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    beats = np.arange(150, 1000, 300)
    wfdb.wrann(RECORD, "atr", beats, symbol=["N"] * len(beats), write_dir=str(folder))
    wfdb.wrann(RECORD, "qrs", beats + 2, symbol=["N"] * len(beats), aux_note=["(N"] + [""] * (len(beats) - 1),
               write_dir=str(folder))


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = Codec.load(ECG_MODEL, threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_record(Path(tmp))
        for path in sorted(Path(tmp).glob(f"{RECORD}.*")):
            (OUT / path.name).write_bytes(path.read_bytes())
    record = OUT / RECORD
    sig = read_wfdb(record)
    files = find_annotations(record)
    header = (OUT / f"{RECORD}.hea").read_bytes()
    assert sorted(files) == ["atr", "qrs"]
    made = {"ecg_lossless": with_record_files(codec.compress(sig, max_error=0).data, files, header),
            "ecg_q2": with_record_files(codec.compress(sig, 2).data, files, header)}  # a lossy file keeps no header
    expected: dict[str, dict] = {}
    for name, data in made.items():
        (OUT / f"{name}.vqc").write_bytes(data)
        np.save(OUT / f"{name}.expected.npy", codec.decompress(data, name).samples, allow_pickle=False)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "exact": name == "ecg_lossless", "tolerance_adc_steps": TOLERANCE_ADC_STEPS,
                          "annotations": {ext: hashlib.sha256(b).hexdigest() for ext, b in sorted(files.items())},
                          "header_sha256": hashlib.sha256(header).hexdigest() if name == "ecg_lossless" else None}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
