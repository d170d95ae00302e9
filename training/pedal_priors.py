"""Count the tables of the MIDI pedal coding (NOTE codings NC07 and NC08, `coder.PEDAL_CODING`) over the asap train
split, one pair per note setting the shipped MIDI models write, and score them on val against NC05's pedals.

    python -m training.pedal_priors --data ../shared/data        # writes vqcodec/midi/pedal_priors.npz

The tables are frozen with the coding (files written with them decode with them forever): rerunning this writes the
same bytes from the same data; other tables would need another PEDAL_CODING.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from training.data import data_root
from training.note_priors import _save_npz, split
from vqcodec.midi import coder as notecoder
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance

OUT = Path(notecoder.__file__).with_name(notecoder.PEDAL_PRIORS)
MODELS = ("midi-v1", "midi-vq")
"""The models whose note settings get tables: midi-v1's levels (midi-v2 shares them) and midi-vq's pedal settings."""


def settings() -> list[tuple[notecoder.NoteSetting, dict[str, np.ndarray]]]:
    """Every (grid, pedal levels) the shipped MIDI models write, once each, in a fixed order, with the priors its
    pedals are coded with under NC05 (the level's; midi-vq's pedal priors)."""
    from vqcodec.midi.vq import VqNoteCodec

    out: dict[tuple[int, int], tuple[notecoder.NoteSetting, dict[str, np.ndarray]]] = {}
    for model in MODELS:
        codec = NoteCodec.load(model)
        for q in codec.qualities:
            s = codec.setting(q)
            priors = codec.model.pedal_priors if isinstance(codec, VqNoteCodec) else codec.bundle.priors(q)
            out.setdefault((s.grid_ms, s.pedal_levels), (s, priors))
    return [out[k] for k in sorted(out)]


def pedal_symbols(perf: Performance, s: notecoder.NoteSetting) -> notecoder.Symbols:
    """The pedals of perf at setting s as the encoder writes them, with no notes."""
    empty = np.zeros(0, np.int64)
    return notecoder.Symbols(empty, empty, empty, empty, *notecoder.quantise_pedals(perf, s))


def count(pieces: list[Performance], s: notecoder.NoteSetting) -> dict[str, np.ndarray]:
    """The gap and level count tables of setting s over the pieces (the level table only above 2 levels). Raw
    counts: mixing each context with the pooled distribution (worth 0.25 to 64 counts) changed the val bits by
    under 0.5 %, and the coder's add-one keeps every symbol codable."""
    levels = s.pedal_levels
    gap = np.zeros((notecoder.PEDAL_GAP_CONTEXTS, notecoder.DIRECT + 1), np.int64)
    level = np.zeros((notecoder.PEDAL_LEVEL_CONTEXTS, levels - 1), np.int64)
    for perf in pieces:
        sym = pedal_symbols(perf, s)
        for c, gaps in sym.pedals.items():
            gap_ctx, direct, level_ctx, step = notecoder.pedal_streams(c, gaps, sym.depth[c], levels)
            np.add.at(gap, (gap_ctx, direct), 1)
            np.add.at(level, (level_ctx, step), 1)
    key = f"{s.grid_ms}-{levels}"
    out = {f"gap-{key}": gap.astype(np.uint32)}
    if levels > notecoder.PEDAL_ON_OFF:
        out[f"level-{key}"] = level.astype(np.uint32)
    return out


def score(pieces: list[Performance], s: notecoder.NoteSetting, priors: dict[str, np.ndarray]) -> tuple[float, float]:
    """Pedal bits per note (ideal code length) of the pieces under NC05's pedals and under PEDAL_CODING."""
    notes = sum(len(p) for p in pieces)
    old = new = 0.0
    for perf in pieces:
        sym = pedal_symbols(perf, s)
        old += notecoder.stream_bits(sym, s, priors, notecoder.NOTE_CODING)["pedal"]
        new += notecoder.stream_bits(sym, s, priors, notecoder.NC07)["pedal"]
    return old / notes, new / notes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=str, default=None, help="the shared data folder (default: $VQCODEC_DATA)")
    args = ap.parse_args(argv)
    root = data_root(args.data)
    train = [perf for _, perf in split(root, "train")]
    val = [perf for _, perf in split(root, "val")]
    tables: dict[str, np.ndarray] = {}
    every = settings()
    for s, _ in every:
        tables |= count(train, s)
    _save_npz(OUT, tables)
    notecoder._pedal_tables.cache_clear()
    print(f"{len(train)} train pieces counted into {OUT}; val pedal bits/note, NC05 -> pedal coding "
          f"{notecoder.PEDAL_CODING}:")
    print("| grid ms | pedal levels | NC05 | new | change |")
    print("|---|---|---|---|---|")
    for s, priors in every:
        old, new = score(val, s, priors)
        print(f"| {s.grid_ms} | {s.pedal_levels} | {old:.3f} | {new:.3f} | {100 * (new / old - 1):+.1f} % |")


if __name__ == "__main__":
    main()
