"""Encode and decode time of the MIDI models on the asap pieces of one split, in one process, models interleaved.

    OMP_NUM_THREADS=1 python benchmarks/midi_speed.py --data ../shared/data --split test \
        --models midi-v1,midi-v2,midi-vq --out benchmarks/results/midi-speed.md

For each piece (read once, not timed) and each model in turn, at the model's default level: `compress` (which
decodes its own file to measure what was lost, as every compress does) and `decompress` of the bytes it wrote,
each timed by wall clock and by this process's CPU time. Models alternate piece by piece, so a change in the
machine's load falls on all of them alike; the ratios between models are the figures to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from vqcodec.io.midi import read_midi
from vqcodec.midi.codec import NoteCodec

ASAP = Path("midi/asap")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--models", default="midi-v1,midi-v2,midi-vq")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here too")
    args = ap.parse_args()
    folder = Path(args.data) / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[args.split]
    models = args.models.split(",")
    codecs = {m: NoteCodec.load(m, threads=1) for m in models}
    pieces = {n: read_midi(folder / n) for n in names}
    notes = sum(len(p) for p in pieces.values())
    clock = {m: {"compress": [0.0, 0.0], "decompress": [0.0, 0.0], "bytes": 0} for m in models}
    for n, perf in pieces.items():
        for m, codec in codecs.items():
            w, c = time.perf_counter(), time.process_time()
            data = codec.compress(perf, name=n).data
            w2, c2 = time.perf_counter(), time.process_time()
            back = codec.decompress(data, n)
            w3, c3 = time.perf_counter(), time.process_time()
            if len(back) != len(perf):
                raise SystemExit(f"{n}: {m} decoded {len(back)} notes of {len(perf)}")
            clock[m]["compress"][0] += w2 - w
            clock[m]["compress"][1] += c2 - c
            clock[m]["decompress"][0] += w3 - w2
            clock[m]["decompress"][1] += c3 - c2
            clock[m]["bytes"] += len(data)
    lines = [f"asap `{args.split}`: {len(names)} pieces, {notes:,} notes; one process, one thread, models interleaved "
             f"piece by piece; default level of each model; load average at the end {os.getloadavg()[0]:.2f}.", "",
             "| model | bits/note | compress s (wall / CPU) | decompress s (wall / CPU) | decode notes/s, wall / CPU |",
             "|---|---|---|---|---|"]
    for m in models:
        (cw, cc), (dw, dc) = clock[m]["compress"], clock[m]["decompress"]
        lines.append(f"| {m} | {8 * clock[m]['bytes'] / notes:.2f} | {cw:.1f} / {cc:.1f} | {dw:.1f} / {dc:.1f} | "
                     f"{notes / dw:,.0f} / {notes / dc:,.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(f"# MIDI encode and decode time\n\n    {' '.join(['python', *sys.argv])}\n\n" + text)


if __name__ == "__main__":
    main()
