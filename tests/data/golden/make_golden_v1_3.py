"""Write the format-1.3 golden files (a MIDI performance, section NOTE). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_3.py       # refuses when v1.3/ already holds files

Same promise as make_golden.py: tests/container/test_golden.py reads these and never regenerates them. They are written
with the shipped bundle midi-v1, whose priors are copied into v1.3/model/ so the files stay decodable even if
the shipped bundle moves on (a later midi-v1 must then list this id in compatible_ids, or the test says so).

What it writes into v1.3/:
  piano_q<level>.vqc          a made-up 150-note performance (chords, a 40 s rest, sustain and soft pedal)
  expected.json               per file: the decoded note table and pedal events (exact), and the model id
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from vqcodec.container import format as vqc  # noqa: E402
from vqcodec.models.bundle import shipped_root  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.midi.performance import Pedal, Performance  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "v1.3"
LEVELS = (3, 7)


def performance() -> Performance:
    """Seeded: runs of notes and three-note chords, a long rest (an escaped gap), CC64 and CC67 pedalling."""
    rng = np.random.default_rng(13)
    onset = np.cumsum(rng.choice([0.0, 0.0, 0.12, 0.25, 0.5], 150) + rng.normal(0, 0.004, 150).clip(0))
    onset[100:] += 40.0
    pitch = rng.integers(36, 96, 150)
    duration = rng.uniform(0.05, 2.5, 150)
    velocity = rng.integers(20, 120, 150)
    sustain = Pedal(np.sort(rng.uniform(0, onset[-1], 24)), rng.integers(0, 128, 24))
    soft = Pedal(np.array([1.0, 9.5]), np.array([127, 0]))
    return Performance(pitch, onset, onset + duration, velocity, {64: sustain, 67: soft})


def write(out: Path) -> None:
    """Write the golden files of the format this vqcodec writes into `out`, with a copy of the shipped midi-v1."""
    if any(out.glob("*.vqc")):
        sys.exit(f"{out} already holds golden files; they are never regenerated (add a new folder instead)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(shipped_root() / "midi-v1", out / "model")
    codec = NoteCodec.load(out / "model")
    perf = performance()
    expected = {}
    for q in LEVELS:
        name = f"piano_q{q}"
        data = codec.compress(perf, q, name=name)[0]
        (out / f"{name}.vqc").write_bytes(data)
        back = codec.decode_file(vqc.loads(data, name), name)
        expected[name] = {"model_id": codec.model_id, "pitch": back.pitch.tolist(), "onset": back.onset.tolist(),
                          "offset": back.offset.tolist(), "velocity": back.velocity.tolist(),
                          "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()}}
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


def main() -> None:
    write(OUT)


if __name__ == "__main__":
    main()
