"""Write the format-1.12 golden files (MIDI: NOTE coding NC06, the neural note prior). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_12.py       # refuses when v1.12/ already holds files

A made-up performance that repeats itself as music does (a 16-note melody over an Alberti bass, transposed and
varied, with CC64 half-pedalling), so that the prior pays and the default level writes NC06. Written with a frozen
copy of the shipped midi-v2 (its prior graphs, and midi-v1's count priors, which midi-v2 reads from beside it) in
v1.12/model. What it writes into v1.12/:
  piano_q3.vqc                the default level: NOTE coded NC06, in several lanes
  expected.json               its sha256, minor, model id, coding and lanes, the decoded note table and pedal events,
                              all exact
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from vqcodec.midi import coder as nc  # noqa: E402
from vqcodec.midi import file as midi_file  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.midi.performance import Pedal, Performance  # noqa: E402
from vqcodec.models.bundle import shipped_root  # noqa: E402

OUT = HERE / "v1.12"
MELODY = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12, 11, 7, 5, 2]
BASS = [0, 7, 4, 7]


def performance() -> Performance:
    """Seeded: 48 bars of melody (8ths) over an Alberti bass (8ths), phrases transposed, 1200 notes."""
    rng = np.random.default_rng(112)
    pitch, onset, duration, velocity = [], [], [], []
    beat = 0.25
    for phrase in range(24):
        key = [0, 5, 7, 0, 2, 7][phrase % 6]
        t0 = phrase * 16 * beat
        for i, step in enumerate(MELODY):
            t = t0 + i * beat + abs(rng.normal(0, 0.006))
            pitch.append(72 + key + step)
            onset.append(t)
            duration.append(beat * rng.uniform(0.8, 1.05))
            velocity.append(int(np.clip(78 + 6 * np.sin(i / 3) + rng.normal(0, 3), 1, 127)))
        for i in range(16):
            t = t0 + i * beat + abs(rng.normal(0, 0.006))
            pitch.append(48 + key + BASS[i % 4])
            onset.append(t)
            duration.append(beat * rng.uniform(0.5, 0.9))
            velocity.append(int(np.clip(55 + rng.normal(0, 3), 1, 127)))
    onset_a = np.array(onset)
    end = float(onset_a.max()) + 1
    pedal_t = np.sort(np.r_[np.arange(0, end, 4 * beat), np.arange(0, end, 4 * beat) + 3.8 * beat])
    pedal_v = np.tile([100, 0], len(pedal_t) // 2)
    return Performance(np.array(pitch), onset_a, onset_a + np.array(duration), np.array(velocity),
                       {64: Pedal(pedal_t, pedal_v)})


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    model = OUT / "model"
    shutil.copytree(shipped_root() / "midi-v2", model)
    for f in sorted((shipped_root() / "midi-v1").glob("priors-q*.npz")):
        shutil.copy(f, model / f.name)
    codec = NoteCodec.load(model)
    perf = performance()
    q = codec.default_quality
    name = f"piano_q{q}"
    data = codec.compress(perf, q, name=name).data
    notes = midi_file.loads(data, name).notes
    if notes[:4] != nc.NC06:
        sys.exit(f"the default level wrote {notes[:4]!r}, not NC06: the golden file would not test the prior")
    (OUT / f"{name}.vqc").write_bytes(data)
    back = codec.decompress(data, name)
    lanes = notes[struct_size()]
    expected = {name: {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                       "model_id": codec.model_id, "coding": "NC06", "lanes": lanes,
                       "pitch": back.pitch.tolist(), "onset": back.onset.tolist(), "offset": back.offset.tolist(),
                       "velocity": back.velocity.tolist(),
                       "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()}}}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


def struct_size() -> int:
    """Where the NC06 lanes byte lies in a NOTE payload (after the head and the pedal levels)."""
    return nc.payload_head_size(0, nc.NC06) - 4 - 1


if __name__ == "__main__":
    main()
