"""Every file release 0.1.0 wrote still decodes to the same record, through the public API (vqcodec.decompress):
the compat folder's EXPECTED.json; its neighbour test_bundle.py checks the decode-only bundles these files need.

The folder is VQCODEC_COMPAT if set, else <VQCODEC_DATA>/../compat/0.1.0; the tests skip when it is absent. Its
README.md states the contract: ECG files decode to the recorded WFDB fields and ADC samples (sha256 of the int64
samples [n, channels], row-major), exactly for --lossless and --max-error files; a lossy model level may differ by
at most 1 ADC unit on at most 0.1 % of the samples on another CPU, measured against NAME.vqc.decoded.zst (the
samples as zstd-compressed int32 first differences along time). MIDI files decode to the recorded note and
control-change counts and the sha256 of midi_digest below.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mido
import numpy as np
import pytest
import wfdb
import zstandard

import vqcodec

COMPAT_ENV = "VQCODEC_COMPAT"
LOSSY_MAX_ADC = 1
"""A lossy level may round a sample to a neighbouring ADC code on another CPU (onnxruntime's float kernels) ..."""
LOSSY_MAX_FRACTION = 0.001
"""... on at most 0.1 % of the samples."""


def compat_folder() -> Path | None:
    """The 0.1.0 compat folder, if there is one."""
    if os.environ.get(COMPAT_ENV):
        folder = Path(os.environ[COMPAT_ENV])
    elif os.environ.get("VQCODEC_DATA"):
        folder = Path(os.environ["VQCODEC_DATA"]) / ".." / "compat" / "0.1.0"
    else:
        return None
    return folder if (folder / "EXPECTED.json").is_file() else None


FOLDER = compat_folder()
EXPECTED: dict[str, dict] = json.loads((FOLDER / "EXPECTED.json").read_text()) if FOLDER else {}
ECG = sorted(name for name, e in EXPECTED.items() if "samples_sha256" in e)
MIDI = sorted(name for name, e in EXPECTED.items() if "notes" in e)
ABSENT = pytest.param(None, marks=pytest.mark.skip(
    reason=f"no 0.1.0 compat folder: set {COMPAT_ENV}, or VQCODEC_DATA with compat/0.1.0 beside it"))

pytestmark = pytest.mark.slow


def adc_samples(decoded: vqcodec.Signal, tmp_path: Path) -> wfdb.Record:
    """The decoded record as a user gets it: written as WFDB and read back with its ADC samples."""
    vqcodec.write(tmp_path / "decoded", decoded)
    return wfdb.rdrecord(str(tmp_path / "decoded"), physical=False)


def reference_samples(name: str, shape: tuple[int, int]) -> np.ndarray:
    """NAME.vqc.decoded.zst: the samples 0.1.0 decoded, as int64 [n, channels]."""
    assert FOLDER is not None
    diffs = np.frombuffer(zstandard.ZstdDecompressor().decompress((FOLDER / f"{name}.decoded.zst").read_bytes()),
                          dtype="<i4")
    return np.cumsum(diffs.reshape(shape).astype(np.int64), axis=0)


def samples_sha256(samples: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<i8").tobytes()).hexdigest()


def midi_digest(path: Path) -> tuple[int, int, str]:
    """(notes, control changes, sha256) of a MIDI file read with mido: times in seconds as mido's playback
    iteration accumulates them, rounded to 6 decimals; notes [onset, pitch, velocity, offset] (a note-off, or a
    note-on of velocity 0, ends the earliest open note of its pitch), sorted; control changes [time, control,
    value] in file order; the sha256 of json.dumps([notes, controls])."""
    t, open_notes, notes, controls = 0.0, {}, [], []
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes.setdefault(msg.note, []).append((round(t, 6), msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            onset, velocity = open_notes[msg.note].pop(0)
            notes.append([onset, msg.note, velocity, round(t, 6)])
        elif msg.type == "control_change":
            controls.append([round(t, 6), msg.control, msg.value])
    notes.sort()
    return len(notes), len(controls), hashlib.sha256(json.dumps([notes, controls]).encode()).hexdigest()


def assert_same_record(name: str, record: wfdb.Record, exact: bool) -> None:
    """The decoded record against EXPECTED.json and NAME.vqc.decoded.zst: every field equal, the samples exactly
    (exact) or within the lossy tolerance."""
    e = EXPECTED[name]
    assert (record.fs, record.sig_len, record.sig_name, record.units) == (e["fs"], e["n"], e["names"], e["units"])
    assert ([float(g) for g in record.adc_gain], [int(b) for b in record.baseline], record.fmt) == (
        e["gain"], e["baseline"], e["fmt"])
    got = record.d_signal.astype(np.int64)
    want = reference_samples(name, got.shape)
    assert samples_sha256(want) == e["samples_sha256"]  # the reference is the record EXPECTED.json describes
    if exact:
        assert samples_sha256(got) == e["samples_sha256"]
    else:
        off = np.abs(got - want)
        assert int(off.max()) <= LOSSY_MAX_ADC and np.count_nonzero(off) <= LOSSY_MAX_FRACTION * off.size


@pytest.mark.parametrize("name", ECG or [ABSENT])
def test_every_ecg_file_of_0_1_0_decodes_to_the_same_record(name: str, tmp_path: Path) -> None:
    """Found by the model id the file names (no --model): ecg-v1 .. ecg-v3 files decode with decode-only bundles."""
    assert FOLDER is not None
    path = FOLDER / name
    exact = vqcodec.info(path).max_error is not None  # --lossless (0) and --max-error files
    decoded = vqcodec.decompress(path)
    assert isinstance(decoded, vqcodec.Signal)
    assert_same_record(name, adc_samples(decoded, tmp_path), exact)


@pytest.mark.parametrize("name", MIDI or [ABSENT])
def test_every_midi_file_of_0_1_0_decodes_to_the_same_notes(name: str, tmp_path: Path) -> None:
    assert FOLDER is not None
    decoded = vqcodec.decompress(FOLDER / name)
    assert isinstance(decoded, vqcodec.Performance)
    vqcodec.write(tmp_path / "decoded.mid", decoded)
    e = EXPECTED[name]
    assert midi_digest(tmp_path / "decoded.mid") == (e["notes"], e["cc"], e["sha256"])


@pytest.mark.skipif("103-ecg-v2.vqc" not in EXPECTED, reason="no 0.1.0 file written with ecg-v2")
def test_ecg_v3_decodes_the_file_ecg_v2_wrote_to_the_same_record(tmp_path: Path) -> None:
    """ecg-v3 is ecg-v2 with another encoder: it lists ecg-v2's id, and decodes its files alike."""
    assert FOLDER is not None
    data = (FOLDER / "103-ecg-v2.vqc").read_bytes()
    assert vqcodec.info(FOLDER / "103-ecg-v2.vqc").model == "ecg-v2"
    decoded = vqcodec.decompress(data, vqcodec.Codec.load("ecg-v3"))
    assert isinstance(decoded, vqcodec.Signal)
    assert_same_record("103-ecg-v2.vqc", adc_samples(decoded, tmp_path), exact=False)
