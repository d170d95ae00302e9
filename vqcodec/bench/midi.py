"""`vqcodec bench` on MIDI files: bits per note and what each method loses, vqcodec's levels against the baselines.

The baselines are what a user has today: the .mid file, zstd -19 of it, and the note table packed on a time grid
with zstd (`vqcodec.midi.performance.pack_lossless`, exact in pitch, velocity and pedal values). Every row is
measured on the decoded performance against the original with `metrics.compare_notes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zstandard

from vqcodec.container import format as vqc
from vqcodec.container.format import ZSTD_LEVEL
from vqcodec.io.midi import read_midi
from vqcodec.metrics import NoteReport, compare_notes
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance, pack_lossless, unpack_lossless

PACK_GRIDS_MS = (1.0, 10.0)


@dataclass
class MidiRow:
    """One method on one piece."""

    method: str
    piece: str
    report: NoteReport
    encode_s: float
    decode_s: float


def baseline_rows(path: Path, perf: Performance) -> list[MidiRow]:
    """The .mid, zstd -19 of it (both exact) and the note table packed on each of PACK_GRIDS_MS."""
    raw = path.read_bytes()
    t0 = time.perf_counter()
    packed_zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    t1 = time.perf_counter()
    rows = [MidiRow(".mid file", path.name, compare_notes(perf, perf, len(raw), len(raw), len(packed_zstd)), 0.0, 0.0),
            MidiRow("zstd -19 of the .mid", path.name,
                    compare_notes(perf, perf, len(packed_zstd), len(raw), len(packed_zstd)), t1 - t0, 0.0)]
    for grid in PACK_GRIDS_MS:
        t0 = time.perf_counter()
        data = pack_lossless(perf, grid)
        t1 = time.perf_counter()
        back = unpack_lossless(data, path.name)
        t2 = time.perf_counter()
        rows.append(MidiRow(f"note table {grid:g} ms + zstd", path.name,
                            compare_notes(perf, back, len(data), len(raw), len(packed_zstd)), t1 - t0, t2 - t1))
    return rows


def vqcodec_row(codec: NoteCodec, quality: int, path: Path, perf: Performance, zstd_bytes: int) -> MidiRow:
    """vqcodec at one level: the file's real size, and the losses measured on what it decodes to."""
    t0 = time.perf_counter()
    data, _ = codec.compress(perf, quality, name=path.stem)
    t1 = time.perf_counter()
    back = codec.decode_file(vqc.loads(data, path.name), path.name)
    t2 = time.perf_counter()
    report = compare_notes(perf, back, len(data), path.stat().st_size, zstd_bytes)
    return MidiRow(f"vqcodec q={quality}", path.name, report, t1 - t0, t2 - t1)


def run(pieces: Sequence[Path], codec: NoteCodec | None, qualities: Sequence[int] | None,
        say: Callable[[str], None] = lambda _: None) -> list[MidiRow]:
    """Every method on every piece (vqcodec at each quality, every level by default, when a codec is given)."""
    rows: list[MidiRow] = []
    levels = list(qualities or range(1, codec.n_levels + 1)) if codec else []
    for path in pieces:
        perf = read_midi(path)
        base = baseline_rows(path, perf)
        rows += base
        rows += [vqcodec_row(codec, q, path, perf, base[1].report.n_bytes) for q in levels if codec is not None]
        say(f"{path.name}: {len(perf)} notes")
    return rows


def _min(values: list[float | None]) -> float:
    finite = [v for v in values if v is not None]
    return min(finite) if finite else float("nan")


def markdown(rows: Sequence[MidiRow], default_quality: int | None = None) -> str:
    """One table: per method, totals over the pieces (bits/note and ratios from summed bytes) and worst cases."""
    lines = [
        f"{len({r.piece for r in rows})} pieces, "
        f"{sum(r.report.n_notes for r in rows if r.method == '.mid file')} notes. "
        "bits/note and CR from the bytes summed over the pieces; F1 and pedal agreement: the worst piece; onset "
        "error: median of the per-piece medians, and the largest over every note; velocity MAE: mean over pieces; "
        "pedal depth error: a piece's largest mean |controller value error| over its pedals (MIDI units, on a 1 ms "
        "grid), its mean over the pieces weighted by their duration, and the worst piece.",
        "",
        "| method | bits/note | CR vs .mid | CR vs zstd -19 | worst F1 onset | worst F1 with offsets | onset error "
        "median / max ms | velocity MAE | worst pedal agreement | pedal depth error mean / worst | encode s | "
        "decode s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    methods = list(dict.fromkeys(r.method for r in rows))
    for m in methods:
        mine = [r for r in rows if r.method == m]
        reps = [r.report for r in mine]
        notes = sum(r.n_notes for r in reps)
        size = sum(r.n_bytes for r in reps)
        mid = sum(r.original_bytes or 0 for r in reps)
        zst = sum(r.zstd_bytes or 0 for r in reps)
        pedal = _min([min(r.pedal_agreement.values(), default=1.0) for r in reps])
        depth = [max(r.pedal_depth_mae.values(), default=0.0) for r in reps]
        weights = [r.duration_s for r in reps]
        depth_mean = float(np.average(depth, weights=weights)) if sum(weights) > 0 else float(np.mean(depth))
        label = f"{m} (default)" if default_quality is not None and m == f"vqcodec q={default_quality}" else m
        lines.append(
            f"| {label} | {8 * size / max(notes, 1):.2f} | {mid / size:.2f} | {zst / size:.2f} | "
            f"{_min([r.f1_onset for r in reps]):.4f} | {_min([r.f1_offset for r in reps]):.4f} | "
            f"{np.median([r.onset_err_ms_median or 0.0 for r in reps]):.2f} / "
            f"{max(r.onset_err_ms_max or 0.0 for r in reps):.2f} | "
            f"{np.mean([r.velocity_mae or 0.0 for r in reps]):.2f} | "
            f"{pedal:.4f} | {depth_mean:.2f} / {max(depth):.2f} | {sum(r.encode_s for r in mine):.2f} | "
            f"{sum(r.decode_s for r in mine):.2f} |")
    return "\n".join(lines) + "\n"
