"""Write the format-1.13 golden files (MIDI: NOTE coding VQN1, the midi-vq model). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_13.py       # refuses when v1.13/ already holds files

The performance of make_golden_v1_9.py (half-pedalled CC64, on/off CC67, meta events), written by midi-vq at its
lowest and its default level. The model is frozen as a copy of the shipped bundle in v1.13/model (with the midi-v1
prior table its pedal stream uses), so the files decode whatever later bundles ship. What it writes into v1.13/:
  piano_q<level>.vqc          the lowest and the default level
  expected.json               per file: its sha256, minor and model id, the decoded note table, pedal events and
                              meta events (time, type, data as hex, track), all exact
  model/                      the frozen bundle
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from make_golden_v1_9 import golden_performance  # noqa: E402

from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.models.bundle import load_note_bundle  # noqa: E402

OUT = HERE / "v1.13"
SHIPPED = ROOT / "vqcodec" / "models" / "midi-vq"


def main() -> None:
    if any(OUT.glob("*.vqc")):
        sys.exit(f"{OUT} already holds golden files; they are never regenerated (add a new folder instead)")
    OUT.mkdir(exist_ok=True)
    bundle = load_note_bundle(SHIPPED)
    shutil.copytree(SHIPPED, OUT / "model")
    for name, where in bundle.files.items():  # a file stored once in another bundle (the pedal priors)
        if not (OUT / "model" / name).is_file():
            shutil.copyfile(where, OUT / "model" / name)
    codec = NoteCodec.load(OUT / "model", threads=1)
    perf = golden_performance()
    expected = {}
    for q in (1, codec.default_quality):
        name = f"piano_q{q}"
        data = codec.compress(perf, q, name=name).data
        (OUT / f"{name}.vqc").write_bytes(data)
        back = codec.decompress(data, name)
        expected[name] = {"minor": data[10], "file_sha256": hashlib.sha256(data).hexdigest(),
                          "model_id": codec.model_id, "pitch": back.pitch.tolist(), "onset": back.onset.tolist(),
                          "offset": back.offset.tolist(), "velocity": back.velocity.tolist(),
                          "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in back.pedals.items()},
                          "meta": [[e.time, e.type, e.data.hex(), e.track] for e in back.meta]}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
