"""Encode and decode time of the MIDI models on the asap pieces of one split, in one process, models interleaved.

    OMP_NUM_THREADS=1 python benchmarks/midi_speed.py --data ../shared/data --split test \
        --models midi-v1,midi-v2,midi-vq --out benchmarks/results/midi-speed.md

For each piece (read once, not timed) and each model in turn, at the model's default level: `compress` (which
decodes its own file to measure what was lost, as every compress does) and `decompress` of the bytes it wrote,
each timed by wall clock and by this process's CPU time. Models alternate piece by piece, so a change in the
machine's load falls on all of them alike; the ratios between models are the figures to compare across machines.

With `--baseline TREE`, the same measurement of another tree's code (e.g. a checkout of main) in the same run: each
tree measured by a child process of its own (this script, that tree first on its path), `--rounds` times each,
in the order this, baseline, baseline, this, ... so a drift in the machine's load falls on both alike; the table
gives each tree's fastest round and the ratio of CPU times, and the bytes both wrote are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ASAP = Path("midi/asap")
ROOT = Path(__file__).resolve().parents[1]


def measure(folder: Path, names: list[str], models: list[str]) -> dict[str, dict]:
    """model -> {"compress": [wall, cpu], "decompress": [wall, cpu], "bytes": total, "sizes": per piece}."""
    from vqcodec.io.midi import read_midi
    from vqcodec.midi.codec import NoteCodec

    codecs = {m: NoteCodec.load(m, threads=1) for m in models}
    pieces = {n: read_midi(folder / n) for n in names}
    clock: dict[str, dict] = {m: {"compress": [0.0, 0.0], "decompress": [0.0, 0.0], "bytes": 0, "sizes": []}
                              for m in models}
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
            clock[m]["sizes"].append(len(data))
    return clock


def _child(args: argparse.Namespace, tree: Path) -> dict[str, dict]:
    """One round of `measure` by a child process running tree's code; with the load average before and after."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clock.json"
        before = os.getloadavg()[0]
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--data", str(Path(args.data).resolve()),
                        "--split", args.split, "--models", args.models, "--json", str(out)], check=True,
                       env=os.environ | {"PYTHONPATH": str(tree.resolve())}, cwd=tree)
        clock = json.loads(out.read_text())
    return clock | {"load": [before, os.getloadavg()[0]]}


def compare(args: argparse.Namespace, notes: int, n_pieces: int) -> list[str]:
    """Both trees, --rounds times each (this, baseline, baseline, this, ...): the table of each tree's fastest round
    (by CPU) and the CPU ratios."""
    trees = {"this tree": ROOT, "baseline": args.baseline}
    rounds: dict[str, list[dict]] = {t: [] for t in trees}
    for r in range(args.rounds):
        for t in (("this tree", "baseline") if r % 2 == 0 else ("baseline", "this tree")):
            rounds[t].append(_child(args, trees[t]))
            print(f"round {r + 1} {t}: " + ", ".join(
                f"{m} compress {rounds[t][-1][m]['compress'][1]:.2f} s CPU" for m in args.models.split(",")),
                flush=True)
    models = args.models.split(",")
    loads = [x for t in trees for c in rounds[t] for x in c["load"]]
    lines = [f"asap `{args.split}`: {n_pieces} pieces, {notes:,} notes; default level of each model; each tree in a "
             f"child process of its own, models interleaved piece by piece, {args.rounds} rounds per tree "
             f"(this, baseline, baseline, this, ...); the fastest round of each (by CPU time) shown; load average "
             f"{min(loads):.2f} to {max(loads):.2f} over the run. Baseline: `{args.baseline}`.", "",
             "| model | tree | compress s (CPU / wall) | decompress s (CPU / wall) | decode notes/CPU s | "
             "compress CPU, all rounds |", "|---|---|---|---|---|---|"]
    best = {t: {m: min(rounds[t], key=lambda c, m=m: c[m]["compress"][1] + c[m]["decompress"][1])[m] for m in models}
            for t in trees}
    for m in models:
        for t in trees:
            b = best[t][m]
            every = ", ".join(f"{c[m]['compress'][1]:.2f}" for c in rounds[t])
            lines.append(f"| {m} | {t} | {b['compress'][1]:.2f} / {b['compress'][0]:.2f} | "
                         f"{b['decompress'][1]:.2f} / {b['decompress'][0]:.2f} | {notes / b['decompress'][1]:,.0f} | "
                         f"{every} |")
    lines += ["", "CPU time of this tree over the baseline's (fastest rounds; and the median of the per-round ratios):",
              ""]
    for m in models:
        parts = []
        for step in ("compress", "decompress"):
            ratios = [a[m][step][1] / b[m][step][1] for a, b in zip(rounds["this tree"], rounds["baseline"])]
            parts.append(f"{step} {best['this tree'][m][step][1] / best['baseline'][m][step][1]:.2f} "
                         f"(median {statistics.median(ratios):.2f})")
        same = all(a[m]["sizes"] == rounds["baseline"][0][m]["sizes"] for a in rounds["this tree"])
        lines.append(f"- {m}: {', '.join(parts)}; file sizes {'the same' if same else 'DIFFER'} in every round")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--models", default="midi-v1,midi-v2,midi-vq")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here too")
    ap.add_argument("--baseline", type=Path, default=None, help="another tree to measure in the same run")
    ap.add_argument("--rounds", type=int, default=2, help="with --baseline: rounds per tree")
    ap.add_argument("--json", type=Path, default=None, help=argparse.SUPPRESS)  # a child's measurement, as JSON
    args = ap.parse_args()
    folder = Path(args.data) / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[args.split]
    models = args.models.split(",")
    if args.json:
        args.json.write_text(json.dumps(measure(folder, names, models)))
        return
    from vqcodec.io.midi import read_midi

    notes = sum(len(read_midi(folder / n)) for n in names)
    if args.baseline:
        lines = compare(args, notes, len(names))
    else:
        clock = measure(folder, names, models)
        lines = [f"asap `{args.split}`: {len(names)} pieces, {notes:,} notes; one process, one thread, models "
                 f"interleaved piece by piece; default level of each model; load average at the end "
                 f"{os.getloadavg()[0]:.2f}.", "",
                 "| model | bits/note | compress s (wall / CPU) | decompress s (wall / CPU) | "
                 "decode notes/s, wall / CPU |",
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
