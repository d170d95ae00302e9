"""Write the format-1.12 golden files (MIDI: NOTE coding NC06, the neural note prior). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_12.py       # refuses when v1.12/ already holds files

A made-up performance drawn from the prior itself (seeded random words decoded through NC06's note streams, one
lane, so the notes are what the network expects: synthetic patterns that a real pianist would not play are coded
better by NC05's adaptive counts, and the default level would not write NC06 for them), with CC64 pedalling every
2 s. Written with a frozen copy of the shipped midi-v2 (its prior graphs, and midi-v1's count priors, which midi-v2
reads from beside it) in v1.12/model. What it writes into v1.12/:
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
NOTES = 1000
SEED = 112


def performance(codec: NoteCodec) -> Performance:
    """NOTES notes sampled from the codec's prior (gaps over 127 steps kept at 127), and a pedal every 2 s."""
    import constriction

    s = codec.setting(codec.default_quality)
    net = codec.bundle.prior()
    assert net is not None
    words = np.random.default_rng(SEED).integers(0, 1 << 32, 40 * NOTES, dtype=np.uint32)
    coder = constriction.stream.stack.AnsCoder(words)
    family = constriction.stream.model.Categorical(perfect=False)

    def rows(weights: np.ndarray) -> np.ndarray:
        return coder.decode(family, weights).astype(np.int64)

    gap, streams = nc._decode_nc06(rows, NOTES, 1, s, net, lambda v, ctx: np.minimum(v, nc.DIRECT - 1), "sample")
    notes = nc.rebuild(nc.Symbols(gap, streams["pitch"], streams["velocity"], streams["duration"], {}), s)
    down = np.arange(0.0, notes.end, 2.0)
    pedal = Pedal(np.sort(np.r_[down, down + 1.7]), np.tile([100, 0], len(down)))
    return Performance(notes.pitch, notes.onset, notes.offset, notes.velocity, {64: pedal})


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    model = OUT / "model"
    shutil.copytree(shipped_root() / "midi-v2", model)
    for f in sorted((shipped_root() / "midi-v1").glob("priors-q*.npz")):
        shutil.copy(f, model / f.name)
    codec = NoteCodec.load(model)
    perf = performance(codec)
    q = codec.default_quality
    name = f"piano_q{q}"
    data = codec.compress(perf, q, name=name).data
    notes = midi_file.loads(data, name).notes
    if notes[:4] != nc.NC06:
        sys.exit(f"the default level wrote {notes[:4]!r}, not NC06: the golden file would not test the prior")
    (OUT / f"{name}.vqc").write_bytes(data)
    back = codec.decompress(data, name)
    lanes = notes[nc.payload_head_size(0, nc.NC06) - 4 - 1]  # the byte after the pedal levels
    expected = {name: {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                       "model_id": codec.model_id, "coding": "NC06", "lanes": lanes,
                       "pitch": back.pitch.tolist(), "onset": back.onset.tolist(), "offset": back.offset.tolist(),
                       "velocity": back.velocity.tolist(),
                       "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()}}}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
