"""Meta events and half-pedalling (format 1.9): the pedal level count chosen on `val`, and a round trip of every asap
file.

    python benchmarks/midi_meta_pedal.py --data ../shared/data levels              # val: bits vs depth error
    python benchmarks/midi_meta_pedal.py --data ../shared/data depth -q 3 -q 7      # test: bits/note, depth error
    python benchmarks/midi_meta_pedal.py --data ../shared/data roundtrip -q 3 -q 7  # every file of every split

`levels` codes the pedals of the `val` pieces alone at each quality level's grid with 2 (on/off, as before format
1.9) to 128 levels, and reports the pedal stream's bits per note (ideal code length, `coder.stream_bits`) and the
pedal-depth error (mean |controller value error| on a 1 ms grid, CC64 and CC67, weighted by the pieces' duration).
`depth` compresses the `test` pieces (--split) at each level given and reports bits per note and the pedal-depth
error as `vqcodec bench` aggregates it; it uses nothing added by format 1.9, so it also measures an earlier tree
(`PYTHONPATH=<that tree> python benchmarks/midi_meta_pedal.py ... depth`).
`roundtrip` compresses every asap file at each level given, decompresses it, writes the .mid and reads it back with
mido: the notes, and the meta events of the kept types (type, data, time within half a tick), must come back.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vqcodec.io.midi import read_midi, write_midi
from vqcodec.midi import coder as notecoder
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import SOFT, SUSTAIN, Pedal, Performance

ASAP = Path("midi/asap")
GRID_S = 0.001
LEVEL_COUNTS = (2, 4, 6, 8, 12, 16, 32, 64, 128)


def _value(pedal: Pedal | None, grid: np.ndarray) -> np.ndarray:
    if pedal is None or not len(pedal):
        return np.zeros(len(grid), np.int64)
    k = np.searchsorted(pedal.time, grid, side="right") - 1
    return np.where(k >= 0, pedal.value[np.maximum(k, 0)].astype(np.int64), 0)


def depth_errors(original: Performance, decoded: Performance) -> dict[int, float]:
    """metrics.pedal_depth_mae, written out so that this script measures trees that lack it."""
    grid = np.arange(int(max(original.end, decoded.end) / GRID_S) + 1) * GRID_S
    return {c: float(np.mean(np.abs(_value(original.pedals.get(c), grid) - _value(decoded.pedals.get(c), grid))))
            for c in sorted(original.pedals.keys() | decoded.pedals.keys())}


def levels(data: Path, qualities: list[int]) -> None:
    """The val table: per quality level and pedal level count, pedal bits/note and depth error."""
    folder = data / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())["val"]
    pieces = [read_midi(folder / n) for n in names]
    notes = sum(len(p) for p in pieces)
    codec = NoteCodec.load("midi")
    empty = np.zeros(0, np.int64)
    print(f"asap val: {len(pieces)} pieces, {notes} notes; the encoder writes "
          + ", ".join(f"q{q}: {codec.pedal_levels(q)}" for q in codec.qualities) + " levels\n")
    print("| level | grid ms | pedal levels | pedal bits/note | pedal events | CC64 depth error | CC67 depth error |")
    print("|---|---|---|---|---|---|---|")
    for q in qualities:
        priors = codec.bundle.priors(q)
        for count in LEVEL_COUNTS:
            s = notecoder.NoteSetting(*codec.setting(q).grids, count)
            bits, events, errors, weights = 0.0, 0, {SUSTAIN: [], SOFT: []}, {SUSTAIN: [], SOFT: []}
            for perf in pieces:
                sym = notecoder.Symbols(empty, empty, empty, empty, *notecoder.quantise_pedals(perf, s))
                bits += notecoder.stream_bits(sym, s, priors)["pedal"]
                events += sum(len(g) for g in sym.pedals.values())
                for c, e in depth_errors(perf, notecoder.rebuild(sym, s)).items():
                    if c in errors:
                        errors[c].append(e)
                        weights[c].append(perf.end)
            depth = {c: np.average(errors[c], weights=weights[c]) for c in errors}
            mark = " (written)" if count == codec.pedal_levels(q) else ""
            print(f"| {q} | {s.grid_ms} | {count}{mark} | {bits / notes:.2f} | {events} | {depth[SUSTAIN]:.2f} | "
                  f"{depth[SOFT]:.2f} |", flush=True)


def depth(data: Path, split: str, qualities: list[int]) -> None:
    """Bits/note and the pedal-depth error of a split's pieces at each level (as `vqcodec bench` sums them)."""
    folder = data / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[split]
    codec = NoteCodec.load("midi")
    pieces = {n: read_midi(folder / n) for n in names}
    notes = sum(len(p) for p in pieces.values())
    for q in qualities:
        size, worst, weights = 0, [], []
        for n, perf in pieces.items():
            blob, _ = codec.compress(perf, q, name=Path(n).stem)
            size += len(blob)
            worst.append(max(depth_errors(perf, codec.decompress(blob, n)).values(), default=0.0))
            weights.append(perf.end)
        print(f"{split} q{q}: {len(pieces)} pieces, {notes} notes, {8 * size / notes:.2f} bits/note, pedal-depth "
              f"error mean {np.average(worst, weights=weights):.2f} / worst {max(worst):.2f}", flush=True)


def roundtrip(data: Path, qualities: list[int]) -> int:
    """Every asap file of every split through compress, decompress and write at each level; the failures."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.helpers.notes import assert_same_meta

    folder = data / ASAP
    names = sorted(sum(json.loads((folder / "SPLITS.json").read_text()).values(), []))
    codec = NoteCodec.load("midi")
    failures, start, n_meta, n_notes = [], time.perf_counter(), 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            perf = read_midi(folder / name)
            n_meta += len(perf.meta)
            n_notes += len(perf)
            for q in qualities:
                try:
                    blob, _ = codec.compress(perf, q, name=Path(name).stem)
                    back = codec.decompress(blob, name)
                    out = Path(tmp) / f"q{q}.mid"
                    write_midi(out, back, force=True)
                    again = read_midi(out)
                    assert len(again) == len(perf) and np.array_equal(np.sort(again.pitch), np.sort(perf.pitch))
                    assert back.meta == perf.meta
                    assert_same_meta(folder / name, out)
                except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
                    failures.append(f"{name} q{q}: {type(e).__name__}: {e}")
    print(f"{len(names)} files ({n_notes} notes, {n_meta} meta events kept) x levels {qualities}: "
          f"{len(names) * len(qualities) - len(failures)} round trips whole, {len(failures)} failed, "
          f"{time.perf_counter() - start:.0f} s")
    for f in failures:
        print(f"  {f}")
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["levels", "depth", "roundtrip"])
    ap.add_argument("--data", type=Path, required=True, help="the folder holding midi/asap")
    ap.add_argument("--split", default="test", help="the split `depth` measures")
    ap.add_argument("-q", "--quality", type=int, action="append", help="levels (default: all for levels, 3 and 7)")
    args = ap.parse_args()
    if args.what == "levels":
        levels(args.data, args.quality or list(range(1, 8)))
        return 0
    if args.what == "depth":
        depth(args.data, args.split, args.quality or [3, 7])
        return 0
    return roundtrip(args.data, args.quality or [3, 7])


if __name__ == "__main__":
    sys.exit(main())
