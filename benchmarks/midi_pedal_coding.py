"""The MIDI pedal coding of format 1.15 (NOTE codings NC07 and NC08) against NC05's pedals on the asap pieces.

    python benchmarks/midi_pedal_coding.py --data ../shared/data design                 # val: the contexts, notes
    python benchmarks/midi_pedal_coding.py --data ../shared/data bits --split val       # bits/note, both codings
    python benchmarks/midi_pedal_coding.py --data ../shared/data bits --split test      # the same, test (report)
    python benchmarks/midi_pedal_coding.py --data ../shared/data bits --split test --models midi-v2   # its time
    python benchmarks/midi_pedal_coding.py --data ../shared/data speed --split test     # compress CPU time
    python benchmarks/midi_pedal_coding.py --data ../shared/data roundtrip              # every file of every split

`design` counts tables on the train split and codes the val pieces' pedals at the default level's setting (16 ms,
6 levels) under variants of the pedal coding's contexts, among them contexts from the notes (which the decoder has
decoded before the pedals): the bits of the gap and level symbols (ideal code lengths under the coder's adaptive
model; escapes, the same in every variant, left out). The notes are the nearest grid's (`coder.quantise`), not the
encoder's choice, which moves an onset by at most 0.75 grid.
`bits` compresses every piece of a split with midi-v1 (every level), midi-v2 (its prior's level) and midi-vq (every
level) as the code does, and again with the pedal coding off (`pedal_coding_pays` false: the files the code before
format 1.15 wrote), pieces and codings interleaved: whole-file bits/note of both, the files that took the pedal
coding and the pedal stream's bits/note under both (ideal, the pedals alone).
`speed` compresses every piece of a split at each model's default level, with the pedal coding and without it,
three rounds each, alternating, and reports the CPU time of each round (the machine's other jobs do not count).
`roundtrip` compresses every asap file (train, val, test) with midi-v2 and midi-vq at their default level, decodes
it, and checks the notes and pedals against the file the pedal coding off writes, decoded: the same, exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vqcodec.io.midi import read_midi
from vqcodec.midi import coder as nc
from vqcodec.midi import file as midi_file
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import SUSTAIN, Performance

ASAP = Path("midi/asap")
DESIGN_QUALITY = 3
MODELS = {"midi-v1": None, "midi-v2": "prior", "midi-vq": None}
"""The levels `bits` measures: every level, or only the prior's (midi-v2 is midi-v1 elsewhere)."""


def pieces(data: Path, split: str) -> list[tuple[str, Performance]]:
    folder = data / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[split]
    return [(n, read_midi(folder / n)) for n in names]


@contextmanager
def pedal_coding_off() -> Iterator[None]:
    """The encoder as before format 1.15: NC05's pedals everywhere."""
    keep = nc.pedal_coding_pays
    nc.pedal_coding_pays = lambda *a: False  # type: ignore[assignment]
    try:
        yield
    finally:
        nc.pedal_coding_pays = keep  # type: ignore[assignment]


# ------------------------------------------------------------------------------------------------------ design

Streams = list[tuple[str, np.ndarray, np.ndarray]]  # (stream, contexts, symbols) of one pedal


def _note_features(sym: nc.Symbols, gaps: np.ndarray) -> dict[str, np.ndarray]:
    """Per pedal event, from the notes: the bucket of the steps from the previous event to the next onset (none: the
    last bucket), the onsets since the previous event (0, 1, 2, 3+), whether one of them is a new bass note (its
    onset's lowest pitch is below 60 and not the previous onset's), and whether an onset lies at the previous
    event's step or the one before."""
    steps = np.cumsum(sym.gap)
    onsets, first = np.unique(steps, return_index=True)
    low = np.minimum.reduceat(sym.pitch, first) if len(first) else np.zeros(0, np.int64)
    bass = np.flatnonzero((low < 60) & (low != np.r_[-1, low[:-1]]))
    at = np.cumsum(gaps)
    before = np.r_[-1, at[:-1]]
    nxt = np.searchsorted(onsets, before, side="right")
    to_next = np.where(nxt < len(onsets), onsets[np.minimum(nxt, len(onsets) - 1)] - before, 1 << 30)
    since = np.searchsorted(onsets, at, side="right") - nxt
    new_bass = np.searchsorted(bass, np.searchsorted(onsets, at, side="right"), side="left") > np.searchsorted(
        bass, nxt, side="left")
    near = (np.searchsorted(onsets, before, side="right") - np.searchsorted(onsets, before - 1, side="left")) > 0
    return {"to_next": nc._gap_bucket(np.minimum(to_next, 1 << 20)), "since": np.minimum(since, 3),
            "bass": new_bass.astype(np.int64), "near": near.astype(np.int64)}


def _variants() -> dict[str, Callable[[nc.Symbols, int, np.ndarray, np.ndarray, int], Streams]]:
    """Name -> the (stream, contexts, symbols) of one pedal's events under that variant."""

    def chosen(sym: nc.Symbols, c: int, gaps: np.ndarray, depth: np.ndarray, levels: int) -> Streams:
        g_ctx, g, l_ctx, lv = nc.pedal_streams(c, gaps, depth, levels)
        return [("gap", g_ctx, g), ("level", l_ctx, lv)]

    def nc05_order(sym: nc.Symbols, c: int, gaps: np.ndarray, depth: np.ndarray, levels: int) -> Streams:
        lv, l_ctx = nc.level_symbols(depth, levels)
        return [("level", l_ctx, lv), ("gap", nc.gap_contexts(gaps, depth), np.minimum(gaps, nc.DIRECT))]

    def with_note(stream: str, feature: str, size: int):  # noqa: ANN202
        def f(sym: nc.Symbols, c: int, gaps: np.ndarray, depth: np.ndarray, levels: int) -> Streams:
            x = _note_features(sym, gaps)[feature]
            return [(s, ctx * size + x if s == stream else ctx, v) for s, ctx, v in chosen(sym, c, gaps, depth, levels)]
        return f

    return {"NC05's order and contexts, tables of train": nc05_order,
            "the pedal coding (gap, then level)": chosen,
            "the pedal coding, with the recency cache": chosen,
            "the pedal coding, with a recency cache of a 16th of its share": chosen,
            "the pedal coding, tables worth 4 times fewer counts": chosen,
            "the pedal coding, tables worth 4 times more counts": chosen,
            "+ gap: steps from the previous event to the next onset": with_note("gap", "to_next", nc.N_GAP + 1),
            "+ gap: an onset at the previous event (or a step before)": with_note("gap", "near", 2),
            "+ level: onsets since the previous event (0-3+)": with_note("level", "since", 4),
            "+ level: a new bass note since the previous event": with_note("level", "bass", 2)}


class _Variant(nc._Model):
    """The coder's adaptive model with its recency cache's share divided by `share`, and its prior's weight times
    `mass` (the coder's: 1 and 1)."""

    def __init__(self, counts: np.ndarray, cached: bool, share: int = 1, mass: float = 1.0) -> None:
        super().__init__(counts, cached)
        self.share = share
        self.prior = np.maximum(1, (self.prior * mass).astype(np.int64))
        self.prior_sum = self.prior.sum(axis=1)

    def _mix(self, base: np.ndarray, base_sum: np.ndarray, recent: np.ndarray) -> np.ndarray:
        return super()._mix(base, base_sum // self.share, recent)


def _model(name: str, table: np.ndarray) -> nc._Model:
    """The model a design variant codes with."""
    if "16th" in name:
        return _Variant(table, True, share=16)
    if "counts" in name:
        return _Variant(table, False, mass=0.25 if "fewer" in name else 4.0)
    return nc._Model(table, cached="recency" in name)


def design(data: Path) -> None:
    codec = NoteCodec.load("midi-v1")
    s = codec.setting(DESIGN_QUALITY)
    train = [nc.quantise(p, s) for _, p in pieces(data, "train")]
    val = [nc.quantise(p, s) for _, p in pieces(data, "val")]
    notes = sum(len(v.gap) for v in val)
    old = sum(nc.stream_bits(v, s, codec.bundle.priors(DESIGN_QUALITY))["pedal"] for v in val) / notes
    alphabet = {"gap": nc.DIRECT + 1, "level": s.pedal_levels - 1}
    print(f"asap val: {len(val)} pieces, {notes} notes, level {DESIGN_QUALITY} ({s.grid_ms} ms, {s.pedal_levels} "
          f"pedal levels); NC05's pedal stream: {old:.3f} bits/note (escapes included)\n")
    gaps = np.concatenate([v.pedals[SUSTAIN] for v in val if SUSTAIN in v.pedals])
    passed = np.concatenate([_note_features(v, v.pedals[SUSTAIN])["since"] for v in val if SUSTAIN in v.pedals])
    print(f"CC64: {len(gaps)} events, {100 * np.mean(gaps <= 2):.0f} % of them 1 or 2 grid steps after the one before, "
          f"{100 * np.mean(passed == 0):.0f} % with no onset since it\n")
    print("| variant | gap bits/note | level bits/note | gap + level |")
    print("|---|---|---|---|")
    for name, streams in _variants().items():
        counts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"gap": [], "level": []}
        for sym in train:
            for c, gaps in sym.pedals.items():
                for stream, ctx, x in streams(sym, c, gaps, sym.depth[c], s.pedal_levels):
                    counts[stream].append((ctx, x))
        tables = {}
        for stream, parts in counts.items():
            ctx = np.concatenate([p[0] for p in parts])
            x = np.concatenate([p[1] for p in parts])
            tables[stream] = np.zeros((int(ctx.max()) + 1, alphabet[stream]), np.int64)
            np.add.at(tables[stream], (ctx, x), 1)
        bits = {"gap": 0.0, "level": 0.0}
        for sym in val:
            models = {k: _model(name, t) for k, t in tables.items()}
            for c, gaps in sym.pedals.items():
                for stream, ctx, x in streams(sym, c, gaps, sym.depth[c], s.pedal_levels):
                    if len(x):
                        w = models[stream].rows(ctx, x)
                        bits[stream] += float(-np.log2(w[np.arange(len(x)), x] / w.sum(axis=1)).sum())
        print(f"| {name} | {bits['gap'] / notes:.3f} | {bits['level'] / notes:.3f} | "
              f"{(bits['gap'] + bits['level']) / notes:.3f} |", flush=True)


# -------------------------------------------------------------------------------------------------------- bits


def _pedal_bits(perf: Performance, s: nc.NoteSetting, priors: dict[str, np.ndarray]) -> tuple[float, float]:
    """The pedals alone: NC05's bits and the pedal coding's (ideal code lengths)."""
    empty = np.zeros(0, np.int64)
    sym = nc.Symbols(empty, empty, empty, empty, *nc.quantise_pedals(perf, s))
    return (nc.stream_bits(sym, s, priors)["pedal"],
            nc.stream_bits(sym, s, priors, nc.NC07)["pedal"] if nc.pedal_priors(s) else float("nan"))


def bits(data: Path, split: str, models: list[str]) -> None:
    from vqcodec.midi.vq import VqNoteCodec

    items = pieces(data, split)
    notes = sum(len(p) for _, p in items)
    print(f"asap {split}: {len(items)} pieces, {notes} notes\n")
    print("| model | level | grid ms, pedal levels | pedal bits/note NC05 | pedal coding | whole file bits/note "
          "before | after | change | files with the pedal coding |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        only = MODELS[model]
        codec = NoteCodec.load(model, threads=1)
        qualities = [codec.bundle.prior_quality] if only else codec.qualities
        for q in qualities:
            s = codec.setting(q)
            priors = codec.model.pedal_priors if isinstance(codec, VqNoteCodec) else codec.bundle.priors(q)
            row = {"old": 0, "new": 0, "coded": 0, "p_old": 0.0, "p_new": 0.0}
            for n, perf in items:
                new = codec.compress(perf, q, name=n).data
                with pedal_coding_off():
                    old = codec.compress(perf, q, name=n).data
                row["old"] += len(old)
                row["new"] += len(new)
                row["coded"] += new[10] == midi_file.PEDAL_MINOR
                p_old, p_new = _pedal_bits(perf, s, priors)
                row["p_old"] += p_old
                row["p_new"] += p_new
            b_old, b_new = 8 * row["old"] / notes, 8 * row["new"] / notes
            print(f"| {model} | {q} | {s.grid_ms}, {s.pedal_levels} | {row['p_old'] / notes:.2f} | "
                  f"{row['p_new'] / notes:.2f} | {b_old:.2f} | {b_new:.2f} | {100 * (b_new / b_old - 1):+.1f} % | "
                  f"{row['coded']} / {len(items)} |", flush=True)


# ------------------------------------------------------------------------------------------------------- speed


def speed(data: Path, split: str, models: list[str], rounds: int = 3) -> None:
    items = [p for _, p in pieces(data, split)]
    print(f"asap {split}: {len(items)} pieces; compress CPU s of all of them at the default level, {rounds} rounds\n")
    print("| model | with the pedal coding | without | ratio of the fastest rounds |")
    print("|---|---|---|---|")
    for model in models:
        codec = NoteCodec.load(model, threads=1)
        seconds: dict[bool, list[float]] = {True: [], False: []}
        for coded in [True, False] * rounds:
            t = time.process_time()
            if coded:
                for perf in items:
                    codec.compress(perf)
            else:
                with pedal_coding_off():
                    for perf in items:
                        codec.compress(perf)
            seconds[coded].append(time.process_time() - t)
        show = lambda v: ", ".join(f"{x:.2f}" for x in v)  # noqa: E731
        print(f"| {model} | {show(seconds[True])} | {show(seconds[False])} | "
              f"{min(seconds[True]) / min(seconds[False]):.3f} |", flush=True)


# --------------------------------------------------------------------------------------------------- roundtrip


def roundtrip(data: Path) -> None:
    folder = data / ASAP
    splits = json.loads((folder / "SPLITS.json").read_text())
    names = [n for part in ("train", "val", "test") for n in splits[part]]
    codecs = {m: NoteCodec.load(m, threads=1) for m in ("midi-v2", "midi-vq")}
    start = time.time()
    done, failed, coded, events = 0, [], 0, 0
    for n in names:
        perf = read_midi(folder / n)
        for m, codec in codecs.items():
            try:
                new = codec.compress(perf, name=n).data
                back = codec.decompress(new, n)
                with pedal_coding_off():
                    old = codec.compress(perf, name=n).data
                before = codec.decompress(old, n)
                same = (back.pedals.keys() == before.pedals.keys()
                        and all(np.array_equal(back.pedals[c].time, before.pedals[c].time)
                                and np.array_equal(back.pedals[c].value, before.pedals[c].value) for c in back.pedals)
                        and midi_file.notes_digest(back) == midi_file.notes_digest(before) and len(back) == len(perf))
                if not same:
                    failed.append(f"{m} {n}: decodes to other notes or pedals than the old coding's")
                coded += new[10] == midi_file.PEDAL_MINOR
                events += sum(len(p) for p in back.pedals.values())
                done += 1
            except Exception as e:  # noqa: BLE001 - every failure is listed
                failed.append(f"{m} {n}: {type(e).__name__}: {e}")
    print(f"{len(names)} files x {list(codecs)} at the default level: {done} round trips, {len(failed)} failed, "
          f"{coded} with the pedal coding; {events} decoded pedal events, every one the old coding's; "
          f"{time.time() - start:.0f} s")
    for f in failed:
        print("FAILED", f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VQCODEC_DATA", "../shared/data")))
    ap.add_argument("part", choices=("design", "bits", "speed", "roundtrip"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--models", default=",".join(MODELS), help="bits, speed: the models (default: all three)")
    args = ap.parse_args()
    if args.part == "design":
        design(args.data)
    elif args.part == "bits":
        bits(args.data, args.split, args.models.split(","))
    elif args.part == "speed":
        speed(args.data, args.split, args.models.split(","))
    else:
        roundtrip(args.data)


if __name__ == "__main__":
    main()
