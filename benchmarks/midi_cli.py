"""Issue-4 measurement: the asap `test` pieces through the CLI at every quality level, against the baselines.

    python benchmarks/midi_cli.py --data ../shared/data --out benchmarks/results/midi-cli.md \
        --json benchmarks/results/midi-cli.json --roll benchmarks/results/midi-test-piano-roll.png

Runs `vqcodec compress` and `vqcodec decompress` on every piece as a user would, reads the original and the
decoded .mid back, and reports bits per note (every header counted) split into pitch / timing+velocity / pedal /
header, note F1, onset errors (the largest over a whole piece shows whether errors accumulate), velocity MAE and
sustain agreement; the baselines are the .mid itself, zstd -19 of it and the note-table packing (`pack_lossless`).
Then every asap file of every split goes through the API at the default level, to show none fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zstandard

from vqcodec.bench import plot
from vqcodec.container import format as vqc
from vqcodec.container.format import ZSTD_LEVEL
from vqcodec.io.midi import read_midi
from vqcodec.metrics import compare_notes
from vqcodec.midi import coder as notecoder
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import pack_lossless

from ecg_cli import emit, preamble, run

ASAP = Path("midi/asap")
TIMING = ("onset", "velocity", "duration")
ROLL_WINDOW = (30.0, 20.0)  # start and length (s) of the piano-roll figure


def parts(data: bytes, codec: NoteCodec, quality: int) -> dict[str, float]:
    """Bits of one file split into pitch / timing+velocity / pedal / header: the rANS words shared out in
    proportion to each stream's ideal code length, everything else (container, metrics, NOTE head) header."""
    f = vqc.loads(data)
    s = codec.setting(quality)
    coding = bytes(f.notes[:4])
    net = codec.bundle.prior() if coding in notecoder.NEURAL_CODINGS else None
    coded, _ = notecoder.decode(f.notes, f.header.n_samples, codec.bundle.priors(quality), "file", net)
    ideal = notecoder.stream_bits(coded, s, codec.bundle.priors(quality), coding, net)
    _, pedals = notecoder.setting_of(f.notes, "file")
    words = 8 * (len(f.notes) - notecoder.payload_head_size(len(pedals), coding))
    scale = words / max(sum(ideal.values()), 1e-9)
    return {"pitch": ideal["pitch"] * scale, "timing+velocity": sum(ideal[k] for k in TIMING) * scale,
            "pedal": ideal["pedal"] * scale, "header": 8 * len(data) - words}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--qualities", default=None, help="comma list (default: every level)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--roll", type=Path, default=None, help="write the piano roll of the first piece here")
    args = ap.parse_args()
    folder = Path(args.data) / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[args.split]
    codec = NoteCodec.load("midi")
    qualities = [int(q) for q in args.qualities.split(",")] if args.qualities else list(range(1, codec.n_levels + 1))
    originals = {n: read_midi(folder / n) for n in names}
    mid_bytes = {n: (folder / n).stat().st_size for n in names}
    zstd_bytes = {n: len(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress((folder / n).read_bytes())) for n in names}
    notes = sum(len(p) for p in originals.values())
    per_note = lambda total_bytes: 8 * total_bytes / notes  # noqa: E731
    results, rows, split_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for q in qualities:
            per = []
            for n in names:
                out_vqc, out_mid = Path(tmp) / f"q{q}.vqc", Path(tmp) / f"q{q}.mid"
                t0 = time.perf_counter()
                run("compress", str(folder / n), "-o", str(out_vqc), "-q", str(q), "--force")
                t1 = time.perf_counter()
                run("decompress", str(out_vqc), "-o", str(out_mid), "--force")
                t2 = time.perf_counter()
                data = out_vqc.read_bytes()
                decoded = read_midi(out_mid)
                rep = compare_notes(originals[n], decoded, len(data), mid_bytes[n], zstd_bytes[n])
                if args.roll and q == codec.default_quality and n == names[0]:
                    plot.piano_roll(originals[n], decoded, args.roll,
                                    f"{n}, vqcodec quality {q} ({rep.bits_per_note:.2f} bits/note)", ROLL_WINDOW)
                row = rep.to_dict() | {"piece": n, "quality": q, "bits": parts(data, codec, q),
                                       "compress_s": t1 - t0, "decompress_s": t2 - t1}
                per.append(row)
                print(f"q={q} {n}: {rep.summary()}", file=sys.stderr)
            results += per
            total = sum(p["n_bytes"] for p in per)
            bits = {k: sum(p["bits"][k] for p in per) / notes for k in per[0]["bits"]}
            rows.append(
                f"| {q}{' (default)' if q == codec.default_quality else ''} | {codec.setting(q).grid_ms} / "
                f"{codec.setting(q).velocity_step} / {codec.setting(q).duration_milli / 1000:g} | "
                f"{per_note(total):.2f} | "
                f"{sum(zstd_bytes.values()) / total:.2f} | {min(p['f1_onset'] for p in per):.4f} | "
                f"{min(p['f1_offset'] for p in per):.4f} | {np.median([p['onset_err_ms_median'] for p in per]):.2f} | "
                f"{max(p['onset_err_ms_max'] for p in per):.2f} | {np.mean([p['velocity_mae'] for p in per]):.2f} | "
                f"{np.median([p['duration_rel_err_median'] for p in per]) * 100:.1f} | "
                f"{min(min(p['pedal_agreement'].values(), default=1.0) for p in per):.4f} | "
                f"{all(p['pitch_exact'] for p in per)} |")
            streams = ("pitch", "timing+velocity", "pedal", "header")
            split_rows.append(f"| {q} | " + " | ".join(f"{bits[k]:.2f}" for k in streams)
                              + f" | {sum(bits.values()):.2f} |")
    baselines = [("the .mid file", sum(mid_bytes.values())), ("zstd -19 of the .mid", sum(zstd_bytes.values())),
                 ("note table, 1 ms grid, pedal exact, zstd -19",
                  sum(len(pack_lossless(p, 1.0)) for p in originals.values())),
                 ("note table, 10 ms grid, pedal exact, zstd -19",
                  sum(len(pack_lossless(p, 10.0)) for p in originals.values()))]
    every, failures, start = 0, [], time.perf_counter()
    for path in sorted(folder.glob("*.mid")):
        try:
            perf = read_midi(path)
            data, rep = codec.compress(perf, name=path.stem)
            back = codec.decode_file(vqc.loads(data, path.name), path.name)
            if len(back) != len(perf) or not rep.pitch_exact:
                failures.append(f"{path.name}: {len(back)} notes back of {len(perf)}")
            every += 1
        except Exception as e:  # noqa: BLE001 - the point is to list any failure, whatever it is
            failures.append(f"{path.name}: {type(e).__name__}: {e}")
    lines = [
        *preamble(f"vqcodec MIDI through the CLI on the asap `{args.split}` split",
                  f"; model {codec.name} sha256 {codec.model_id[:16]}…"),
        f"{len(names)} pieces, {notes} notes. Bits per note count every byte of the file. CR vs zstd is "
        "zstd -19 of the original .mid over the .vqc (totals over the split). Onset error median: the median over "
        "pieces of each piece's median; max: over every note of every piece. Pedal: the lowest fraction of time "
        "any piece's pedal (on/off at 64) agrees with the original.", "",
        "| quality | grid ms / velocity step / duration ratio | bits/note | CR vs zstd -19 | worst F1 onset | "
        "worst F1 with offsets | onset error median ms | onset error max ms | velocity MAE | duration error median % | "
        "worst pedal agreement | pitch exact |", "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "Where the bits go (bits/note; the rANS words shared out by each stream's ideal code length):", "",
        "| quality | pitch | timing+velocity | pedal | header | total |", "|---|---|---|---|---|---|", *split_rows, "",
        "Baselines on the same pieces:", "", "| method | bits/note |", "|---|---|",
        *[f"| {name} | {per_note(b):.2f} |" for name, b in baselines], "",
        f"Every asap file (all splits) through compress + decode at the default level: {every} files, "
        f"{len(failures)} failures, {time.perf_counter() - start:.0f} s." + "".join(f"\n- {f}" for f in failures),
    ]
    emit(lines, results, args.out, args.json)


if __name__ == "__main__":
    main()
