"""The sha256 of what NoteCodec.compress writes for the asap pieces at several levels of every MIDI model, and of the
notes each file decodes to: for checking that a change meant to leave the bytes alone (a speed-up) does.

    OMP_NUM_THREADS=1 python benchmarks/midi_same_bytes.py --data DATA --baseline /path/to/old/tree -o new.json

One process per tree (the code under test, then with --baseline the other tree's, run as a child with that tree first
on its path); compress in process, not through the CLI, so the 25 test pieces at four levels take minutes. Exits
non-zero naming every (model, level, piece) whose bytes differ. benchmarks/identical_outputs.py does the same through
the CLI for the ECG inputs and the default MIDI model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ASAP = Path("midi/asap")
LEVELS = {"midi-v1": [1, 3, 5, 7], "midi-v2": [1, 3, 5, 7], "midi-vq": [1, 3, 5]}


def hashes(data: Path, pieces: list[str], models: list[str]) -> dict[str, str]:
    """'model qN piece' -> sha256 of the .vqc bytes and of the decoded notes (vqcodec.midi.file.notes_digest)."""
    from vqcodec.io.midi import read_midi
    from vqcodec.midi.codec import NoteCodec
    from vqcodec.midi.file import notes_digest

    out = {}
    for m in models:
        codec = NoteCodec.load(m, threads=1)
        for piece in pieces:
            perf = read_midi(data / ASAP / piece)
            for q in LEVELS[m]:
                blob = codec.compress(perf, quality=q, name=piece).data
                back = codec.decompress(blob, piece)
                out[f"{m} q{q} {piece}"] = f"{hashlib.sha256(blob).hexdigest()} {notes_digest(back).hex()}"
    return out


def baseline(args: argparse.Namespace) -> dict[str, str]:
    """The same hashes from the tree args.baseline: this script run as a child with that tree first on its path."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "baseline.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--data", str(args.data.resolve()), "--splits",
                        args.splits, "--models", args.models, "-o", str(out)], check=True,
                       env=os.environ | {"PYTHONPATH": str(args.baseline.resolve())}, cwd=args.baseline)
        return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VQCODEC_DATA", "../shared/data")))
    ap.add_argument("--splits", default="test,val:8", help="splits, each with :N for its first N pieces")
    ap.add_argument("--models", default=",".join(LEVELS))
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another tree to hash the same way (or a JSON file of its hashes, from -o), then compare")
    ap.add_argument("-o", "--out", type=Path, default=None, help="write this tree's hashes here (JSON)")
    args = ap.parse_args()
    splits = json.loads((args.data / ASAP / "SPLITS.json").read_text())
    pieces = []
    for part in args.splits.split(","):
        split, _, n = part.partition(":")
        pieces += splits[split][: int(n) if n else None]
    models = args.models.split(",")
    t = time.perf_counter()
    mine = hashes(args.data, pieces, models)
    print(f"{len(mine)} files hashed in {time.perf_counter() - t:.0f} s", flush=True)
    if args.out:
        args.out.write_text(json.dumps(mine, indent=1, sort_keys=True) + "\n")
    if args.baseline is None:
        return
    theirs = json.loads(args.baseline.read_text()) if args.baseline.is_file() else baseline(args)
    differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    for k in differ:
        print(f"differs: {k}")
    print(f"{len(mine) - len(differ)} of {len(mine)} files the same as {args.baseline}'s "
          f"({len(pieces)} pieces, models {args.models})")
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
