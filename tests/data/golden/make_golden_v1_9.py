"""Write the format-1.9 golden files (MIDI: NOTE coding NC05, pedal depth; eVNT, meta events). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_9.py       # refuses when v1.9/ already holds files

The made-up performance of make_golden_v1_3.py (its CC64 half-pedalled, its CC67 on/off) with meta events: two
tempos, a time and a key signature, a track name in track 1, a marker, a text of Latin-1 bytes in track 2, and a
cue after the last note. Written by the 1.9 coder with the frozen model of v1.6 (the shipped midi-v1, whose
ladder gives 6 pedal levels at quality 3 and 128 at quality 7); no model is copied again. What it writes into v1.9/:
  piano_q<level>.vqc          levels 3 and 7
  expected.json               per file: its sha256, minor and model id, the decoded note table, pedal events and
                              meta events (time, type, data as hex, track), all exact
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from make_golden_v1_3 import performance  # noqa: E402

from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.midi.performance import MetaEvent, Performance  # noqa: E402

OUT = HERE / "v1.9"
MIDI_MODEL = HERE / "v1.6" / "model"
LEVELS = (3, 7)
META = [MetaEvent(0.0, 0x51, (500000).to_bytes(3, "big")), MetaEvent(0.0, 0x58, bytes([3, 2, 24, 8])),
        MetaEvent(0.0, 0x59, bytes([0xFE, 0])), MetaEvent(0.0, 0x03, b"Piano", 1),
        MetaEvent(12.345678, 0x06, b"B section"), MetaEvent(20.0, 0x51, (652174).to_bytes(3, "big")),
        MetaEvent(21.5, 0x01, "réprise \xff".encode("latin-1"), 2), MetaEvent(120.0, 0x07, b"end")]


def golden_performance() -> Performance:
    p = performance()
    return Performance(p.pitch, p.onset, p.offset, p.velocity, p.pedals, meta=META)


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    codec = NoteCodec.load(MIDI_MODEL)
    perf = golden_performance()
    expected = {}
    for q in LEVELS:
        name = f"piano_q{q}"
        data = codec.compress(perf, q, name=name).data
        (OUT / f"{name}.vqc").write_bytes(data)
        back = codec.decompress(data, name)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "model_id": codec.model_id, "pedal_levels": codec.pedal_levels(q),
                          "pitch": back.pitch.tolist(), "onset": back.onset.tolist(),
                          "offset": back.offset.tolist(), "velocity": back.velocity.tolist(),
                          "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()},
                          "meta": [[e.time, e.type, e.data.hex(), e.track] for e in back.meta]}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
