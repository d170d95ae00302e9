"""midi-vq's ladder against the grid coder at similar rates, on the asap test split: bits/note (every byte of the
.vqc file), onset F1 at 50 ms, onset error median and max over all notes, velocity MAE; and a piano roll.

    python benchmarks/midi_vq.py --data $VQCODEC_DATA --json benchmarks/results/midi-vq.json \
        --roll benchmarks/results/midi-vq-piano-roll.png
    python benchmarks/midi_vq.py --data $VQCODEC_DATA --parts     # where the default level's bits go

The grid coder is midi-v1's levels 1-3 and, below them, the same coder at coarser settings (COARSE) with priors
counted on the asap train split by this script (a bundle written to a temporary folder, coded and decoded through
NoteCodec like any bundle). Each piece is compressed and decompressed from the bytes; the errors are measured on
what was decoded, notes paired by rank within each pitch (every coder here keeps pitch exact).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vqcodec.bench import plot  # noqa: E402
from vqcodec.io.midi import read_midi  # noqa: E402
from vqcodec.metrics import _rank_pairs  # noqa: E402
from vqcodec.midi import coder as notecoder  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.midi.performance import Performance  # noqa: E402
from vqcodec.midi.vq import VqNoteCodec  # noqa: E402
from vqcodec.models.bundle import file_sha256  # noqa: E402

ASAP = Path("midi/asap")
COARSE = ((32, 16, 2000), (48, 20, 2600), (64, 24, 3200), (96, 32, 4000))
"""Grid coder settings below midi-v1's coarsest (grid ms, velocity step, duration ratio x1000)."""
GRID_LEVELS = (1, 2, 3)
CONTROL_STAGES = 0
"""The control: each midi-vq level with no codebook stage kept (the decoder predicts from the pitches alone, the
corrections do the rest), its corrections under a flat prior: what the code indices earn."""
ROLL_WINDOW = (30.0, 20.0)


def coarse_bundle(train: list[Performance], folder: Path) -> NoteCodec:
    """A grid-coder bundle of the COARSE settings with priors counted on the train pieces."""
    levels = []
    for q, (grid, vstep, dmilli) in enumerate(COARSE, 1):
        s = notecoder.NoteSetting(grid, vstep, dmilli)
        total = {name: np.zeros(shape, np.int64) for name, shape in s.streams().items()}
        for perf in train:
            for name, table in notecoder.count(notecoder.quantise(perf, s), s).items():
                total[name] += table
        name = f"priors-q{q}.npz"
        np.savez(folder / name, **{k: v.astype(np.uint32) for k, v in total.items()})
        levels.append({"grid_ms": grid, "velocity_step": vstep, "duration_milli": dmilli, "priors": name})
    # NoteCodec keeps every pedal value at a bundle's top level: a top level that is never measured keeps the
    # measured ones at their own pedal levels (its grids share the first level's table shapes and priors)
    grid, vstep, dmilli = COARSE[0]
    levels.append({"grid_ms": grid - 1, "velocity_step": vstep, "duration_milli": dmilli,
                   "priors": levels[0]["priors"]})
    files = {lv["priors"]: file_sha256(folder / lv["priors"]) for lv in levels}
    manifest = {"name": "grid-coarse", "kind": "midi", "levels": levels, "default_quality": 1, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return NoteCodec.load(folder)


def measure(codec: NoteCodec, q: int, pieces: list[tuple[str, Performance]]) -> tuple[dict, dict]:
    bits = notes = 0
    f1 = vel = 0.0
    errors = []
    decoded = {}
    start = time.time()
    for name, perf in pieces:
        data, r = codec.compress(perf, q, name=name)
        back = codec.decompress(data, name)
        decoded[name] = back
        assert sorted(back.pitch.tolist()) == sorted(perf.pitch.tolist()), f"{name}: pitch not exact"
        a, b = _rank_pairs(perf, back)
        errors.append(np.abs(perf.onset[a] - back.onset[b]) * 1000)
        bits += 8 * len(data)
        notes += len(perf)
        f1 += r.f1_onset * len(perf)
        vel += r.velocity_mae * len(perf)
    err = np.concatenate(errors)
    row = {"coder": codec.name, "quality": q, "bits_per_note": round(bits / notes, 3),
           "f1_onset": round(f1 / notes, 4), "onset_err_ms_median": round(float(np.median(err)), 2),
           "onset_err_ms_max": round(float(err.max()), 2), "velocity_mae": round(vel / notes, 2),
           "notes": notes, "seconds": round(time.time() - start, 1)}
    if hasattr(codec, "level_of"):
        row["level"] = codec.level_of(q).__dict__
    else:
        row["setting"] = list(codec.setting(q).grids)
    print(json.dumps(row), flush=True)
    return row, decoded


def parts(codec: VqNoteCodec, q: int, pieces: list[tuple[str, Performance]]) -> dict[str, float]:
    """Bits/note of each part of the files at level q: the container (header, mNOT, dNOT, bIND, section heads, the
    VQN1 head), eVNT, the pedal stream, the code indices, the pitches (the note stream with every correction 0) and
    the corrections (the rest of the note stream)."""
    import struct

    from vqcodec.container import format as vqc
    from vqcodec.midi import file as midi_file

    total = dict.fromkeys(("container", "eVNT", "pedals", "indices", "pitches", "corrections", "file"), 0)
    n = 0
    for name, perf in pieces:
        data = codec.compress(perf, q, name=name).data
        sections = vqc.read(data, name).sections
        payload = midi_file.loads(data, name).notes
        head = 16  # coding, stages, pedal levels, bound, anchor, pedal grid, crc
        pedal = struct.unpack_from("<I", payload, head)[0]
        index = struct.unpack_from("<I", payload, head + 4 + pedal)[0]
        words = len(payload) - head - 8 - pedal - index
        codes = codec.codes(perf, q)
        codes.corrections[:] = 0
        pitches = len(codec._encode_notes(codes))
        events = len(sections.get("eVNT", b""))
        total["container"] += len(data) - len(payload) - events + head + 8
        total["eVNT"] += events
        total["pedals"] += pedal
        total["indices"] += index
        total["pitches"] += pitches
        total["corrections"] += words - pitches
        total["file"] += len(data)
        n += len(perf)
    return {k: round(8 * v / n, 3) for k, v in total.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--roll", type=Path, default=None)
    ap.add_argument("--split", default="test")
    ap.add_argument("--parts", action="store_true", help="only where the default level's bits go")
    args = ap.parse_args()
    folder = args.data / ASAP
    split = json.loads((folder / "SPLITS.json").read_text())
    pieces = [(n, read_midi(folder / n)) for n in split[args.split]]
    print(f"{args.split}: {len(pieces)} pieces, {sum(len(p) for _, p in pieces)} notes", flush=True)
    rows = []
    vq = NoteCodec.load("midi-vq", 1)
    assert isinstance(vq, VqNoteCodec)
    if args.parts:
        print(json.dumps(parts(vq, vq.default_quality, pieces)))
        return
    vq_decoded = {}
    for q in vq.qualities:
        row, dec = measure(vq, q, pieces)
        rows.append(row)
        if q == vq.default_quality:
            vq_decoded = dec
    control = NoteCodec.load("midi-vq", 1)
    assert isinstance(control, VqNoteCodec)
    control.levels = [dataclasses.replace(lv, stages=CONTROL_STAGES) for lv in control.levels]
    control.model.priors["correction"] = np.zeros_like(control.model.priors["correction"])
    control.name = "midi-vq, no stage (control)"
    for q in control.qualities:
        rows.append(measure(control, q, pieces)[0])
    grid = NoteCodec.load("midi")
    grid_decoded = {}
    for q in GRID_LEVELS:
        row, dec = measure(grid, q, pieces)
        rows.append(row)
        if q == grid.default_quality:
            grid_decoded = dec
    with tempfile.TemporaryDirectory() as tmp:
        train = [read_midi(folder / n) for n in split["train"]]
        coarse = coarse_bundle(train, Path(tmp))
        for q in coarse.qualities[: len(COARSE)]:
            rows.append(measure(coarse, q, pieces)[0])
    if args.json is not None:
        args.json.write_text(json.dumps({"split": args.split, "vq_model": vq.model_id, "grid_model": grid.model_id,
                                         "rows": rows}, indent=1) + "\n")
    if args.roll is not None:
        name, perf = pieces[0]
        v = next(r for r in rows if r["coder"] == vq.name and r["quality"] == vq.default_quality)
        g = next(r for r in rows if r["coder"] == grid.name and r["quality"] == grid.default_quality)
        plot.piano_roll(perf, [(f"grid coder, midi-v1 quality {grid.default_quality} (all test: "
                                f"{g['bits_per_note']:.2f} bits/note)", grid_decoded[name]),
                               (f"midi-vq quality {vq.default_quality} (all test: {v['bits_per_note']:.2f} bits/note)",
                                vq_decoded[name])], args.roll, name, ROLL_WINDOW)


if __name__ == "__main__":
    main()
