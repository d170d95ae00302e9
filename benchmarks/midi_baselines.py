"""Lossless MIDI baselines on the asap `test` split: bits/note of the .mid, zstd -19 of it, and pack_lossless.

Also reads every .mid in the asap folder (and writes back the test pieces) to show the reader handles the whole
set, with the edge-case rules it applied.

    nice -n 19 python benchmarks/midi_baselines.py [DATA_ROOT]   # default: $VQCODEC_DATA
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zstandard

from vqcodec.container.format import ZSTD_LEVEL
from vqcodec.io.midi import onset_quantisation_error, read_midi, write_midi
from vqcodec.midi.performance import RuleCounts, pack_lossless, unpack_lossless

ASAP = Path("midi/asap")
SPLIT = "test"
GRIDS_MS = (1, 10)
BITS_PER_BYTE = 8
MS_PER_S = 1000


def _onset_errors_ms(original: np.ndarray, packed: bytes) -> np.ndarray:
    """|onset error| in ms of every note after a pack round trip (rounding is monotone, so sorted onsets pair up)."""
    return np.abs(np.sort(unpack_lossless(packed).onset) - np.sort(original)) * MS_PER_S


def main(root: Path) -> None:
    folder = root / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[SPLIT]
    sizes: dict[str, int] = {}
    onset_errors: dict[int, list[np.ndarray]] = {grid: [] for grid in GRIDS_MS}
    n_notes, n_pedal, seconds, write_err, quant_err = 0, 0, 0.0, 0.0, 0.0
    cz = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    def add(label: str, size: int) -> None:
        sizes[label] = sizes.get(label, 0) + size

    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            raw = (folder / name).read_bytes()
            perf = read_midi(folder / name)
            n_notes += len(perf)
            n_pedal += sum(len(p) for p in perf.pedals.values())
            seconds += perf.source.duration
            add(".mid file", len(raw))
            add("zstd -19 of the .mid", len(cz.compress(raw)))
            for grid in GRIDS_MS:
                packed = pack_lossless(perf, grid, pedal=False)
                add(f"pack_lossless {grid} ms grid, no pedal", len(packed))
                add(f"pack_lossless {grid} ms grid, with pedal", len(pack_lossless(perf, grid)))
                onset_errors[grid].append(_onset_errors_ms(perf.onset, packed))
            out = Path(tmp) / name
            write_midi(out, perf)
            write_err = max(write_err, float(np.max(np.abs(read_midi(out).onset - perf.onset), initial=0.0)))
            quant_err = max(quant_err, onset_quantisation_error(perf))

    print(f"asap {SPLIT}: {len(names)} pieces, {n_notes} notes, {seconds / 3600:.2f} h (to the end of track), "
          f"{n_pedal / n_notes:.2f} pedal events/note")
    print("| method | bytes | bytes/note | bits/note | onset error mean / max (ms) |")
    print("|---|---|---|---|---|")
    for label, total in sizes.items():
        grid = next((g for g in GRIDS_MS if label.startswith(f"pack_lossless {g} ms")), None)
        err = np.concatenate(onset_errors[grid]) if grid else np.zeros(1)
        print(f"| {label} | {total} | {total / n_notes:.2f} | {total * BITS_PER_BYTE / n_notes:.1f} "
              f"| {err.mean():.3f} / {err.max():.3f} |")
    print(f"write_midi -> read_midi on the {SPLIT} pieces: max onset error {write_err * MS_PER_S:.4f} ms "
          f"(onset_quantisation_error: {quant_err * MS_PER_S:.4f} ms)")

    files = sorted(folder.glob("*.mid"))
    total_counts, total_notes, start = RuleCounts(), 0, time.perf_counter()
    for path in files:
        perf = read_midi(path)
        total_counts += perf.counts
        total_notes += len(perf)
    print(f"read_midi on all {len(files)} asap files: {total_notes} notes, no errors, "
          f"{time.perf_counter() - start:.1f} s; rules applied: {total_counts.applied() or 'none'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["VQCODEC_DATA"]))
