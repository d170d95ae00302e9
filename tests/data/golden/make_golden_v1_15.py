"""Write the format-1.15 golden files (MIDI: NOTE codings NC07 and NC08, the pedal coding). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_15.py       # refuses when v1.15/ already holds files

The first 400 notes of make_golden_v1_12.py (drawn from midi-v2's prior, so that the default level writes NC08), pedalled as
a pianist does and a digital piano records it (seeded: at every fifth onset CC64 let up and pressed again in steps
of about 20 ms, a hold of over 2 s, CC67 on and off), written with the frozen models of earlier golden folders: midi-v2 in
v1.12/model (levels 1, 3 and 7: NC07 with 6 pedal levels, NC08, NC07 with 128) and midi-vq in v1.13/model (its
level 5: VQN1 with an NC07 pedal stream). The pedal coding's tables are the package's
(vqcodec/midi/pedal_priors.npz, frozen with the coding). What it writes into v1.15/:
  piano_q<level>.vqc, vq_q5.vqc   the files
  expected.json                   per file: its sha256, minor, model id, NOTE coding (and the pedal stream's, for
                                  VQN1), the decoded note table and pedal events, all exact
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

from make_golden_v1_12 import performance as prior_notes  # noqa: E402

from vqcodec.midi import file as midi_file  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.midi.performance import SOFT, SUSTAIN, Pedal, Performance  # noqa: E402

OUT = HERE / "v1.15"
GRID_MODEL = HERE / "v1.12" / "model"
VQ_MODEL = HERE / "v1.13" / "model"
SEED = 115
NOTES = 400
WRITES = {"piano_q1": (GRID_MODEL, 1, b"NC07"), "piano_q3": (GRID_MODEL, 3, b"NC08"),
          "piano_q7": (GRID_MODEL, 7, b"NC07"), "vq_q5": (VQ_MODEL, 5, b"VQN1")}
"""file -> (model, level, the NOTE coding it must hold)."""
LET_UP = np.array([98, 77, 65, 51, 0])
PRESS = np.array([41, 51, 57, 61, 65, 71, 82, 109, 127])
STEPS_S = np.array([0.0182, 0.0195, 0.0208])
"""A pedal change's values and the time between them, as a real CC64 records them (a few asap pieces' shape)."""


def performance(codec: NoteCodec) -> Performance:
    """The first NOTES of the v1.12 notes, with legato pedalling."""
    every = prior_notes(codec)
    keep = slice(0, NOTES)
    notes = Performance(every.pitch[keep], every.onset[keep], every.offset[keep], every.velocity[keep])
    rng = np.random.default_rng(SEED)
    times: list[float] = []
    values: list[int] = []
    for t in np.unique(notes.onset)[::5] + rng.uniform(0.03, 0.12):
        up = t + np.cumsum(rng.choice(STEPS_S, len(LET_UP)))
        down = up[-1] + rng.uniform(0.05, 0.25) + np.cumsum(rng.choice(STEPS_S, len(PRESS)))
        times += [*up, *down]
        values += [*(LET_UP + rng.integers(-3, 4, len(LET_UP))).clip(0, 127).tolist(),
                   *(PRESS + rng.integers(-3, 4, len(PRESS))).clip(0, 127).tolist()]
    times += [float(notes.end) + 0.1, float(notes.end) + 2.6]
    values += [0, 127]
    soft = np.sort(rng.uniform(0, float(notes.end), 6))
    return Performance(notes.pitch, notes.onset, notes.offset, notes.velocity,
                       {SUSTAIN: Pedal(times, values), SOFT: Pedal(soft, [127, 0] * 3)})


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    perf = performance(NoteCodec.load(GRID_MODEL))
    expected = {}
    files = {}
    for name, (model, q, coding) in WRITES.items():
        codec = NoteCodec.load(model, threads=1)
        data = codec.compress(perf, q, name=name).data
        notes = midi_file.loads(data, name).notes
        at = midi_file.VQ_PEDAL_AT + 4
        pedal_coding = notes[at : at + 4] if coding == b"VQN1" else notes[:4]
        if notes[:4] != coding or pedal_coding not in (b"NC07", b"NC08") or data[10] != midi_file.PEDAL_MINOR:
            sys.exit(f"{name}: level {q} wrote {notes[:4]!r} (pedals {pedal_coding!r}), not {coding!r} with the pedal "
                     "coding: the golden file would not test it")
        back = codec.decompress(data, name)
        files[name] = data
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "model": model.relative_to(HERE).as_posix(), "model_id": codec.model_id,
                          "coding": notes[:4].decode(), "pedal_coding": pedal_coding.decode(),
                          "pitch": back.pitch.tolist(), "onset": back.onset.tolist(), "offset": back.offset.tolist(),
                          "velocity": back.velocity.tolist(),
                          "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()}}
    OUT.mkdir(exist_ok=True)
    for name, data in files.items():
        (OUT / f"{name}.vqc").write_bytes(data)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
