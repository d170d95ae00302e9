"""Archive scale, through the CLI: many records in one batch call against one process per record (`--part batch`),
and time and memory against record length (`--part length`; `--part prdn` for `--max-prdn`; `--part aux` for records
with a signal the model does not code, WFDB and EDF); writes benchmarks/results/scale.md.

    python benchmarks/scale.py --data data --part batch      # LUDB's 200 records: batch calls against single calls
    python benchmarks/scale.py --data data --part all

Each part writes its own section of the results file, between `<!-- part: NAME -->` and `<!-- /part: NAME -->`,
and leaves the other parts' sections as they are, so the parts can be run (and re-run) apart. A part is a function
(args) -> the Markdown lines of its section, registered in PARTS.

The batch part times whole `vqcodec` processes, start-up included, as a user sees them: one `vqcodec compress
FOLDER -o OUT/ --jobs N` call over every record, and `vqcodec compress RECORD -o OUT/RECORD.vqc` once per record on a
subset (--single N records, spread over the set), scaled to the whole set. It also checks that the batch wrote,
for every record of the subset, the same bytes as the single call.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scale.md"
TITLE = "# Archive scale: batches, and record length"
LUDB = Path("ecg") / "ludb" / "data"
SINGLE_SUBSET = 20
"""Records timed one process each; the time for the whole set is scaled from them."""
SPEEDUP_GOAL = 5.0
"""The issue's goal: one batch call at least this many times faster than one process per record."""


@dataclass
class Timed:
    """One way of compressing the set: its label, the records it ran and the wall time of its processes."""

    label: str
    command: str
    records: int
    seconds: float
    scaled_from: int | None = None  # records actually timed, when seconds is scaled to the whole set

    @property
    def per_record(self) -> float:
        return self.seconds / self.records


def _run(args: list[str]) -> float:
    """Wall seconds of one `python -m vqcodec ARGS` process; exits naming the command if it fails."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "vqcodec", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if p.returncode:
        sys.exit(f"vqcodec {shlex.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return seconds


def _cpu() -> str:
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    except OSError:
        found = None
    return f"{found.group(1).strip() if found else platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _commit() -> str:
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parent)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent).stdout.strip()
    return (p.stdout.strip() or "?") + (" with uncommitted changes" if dirty else "")


def batch_part(args: argparse.Namespace) -> list[str]:
    """LUDB's records in one `vqcodec compress FOLDER --jobs N` call against one process per record."""
    source = args.data / LUDB
    records = sorted(source.glob("*.hea"), key=lambda p: (len(p.stem), p.stem))
    if not records:
        sys.exit(f"{source}: no LUDB records (*.hea) there")
    records = records[: args.records]
    n = len(records)
    step = max(1, n // args.single)
    subset = records[::step][: args.single]
    say = lambda msg: print(f"scale batch: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    quality = ["-q", str(args.quality)] if args.quality is not None else []
    runs: list[Timed] = []
    with tempfile.TemporaryDirectory(prefix="vqcodec-scale-") as tmp:
        work = Path(tmp)
        folder = source
        if n < len(list(source.glob("*.hea"))):  # --records: a folder of links to the first n
            folder = work / "records"
            folder.mkdir()
            for r in records:
                for f in source.glob(f"{r.stem}.*"):
                    (folder / f.name).symlink_to(f.resolve())
        single = work / "single"
        single.mkdir()
        say(f"{len(subset)} single calls")
        seconds = sum(_run(["compress", str(r), "-o", str(single / f"{r.stem}.vqc"), *quality]) for r in subset)
        runs.append(Timed("one `vqcodec compress` process per record", "vqcodec compress RECORD.hea -o RECORD.vqc",
                          n, seconds / len(subset) * n, len(subset)))
        for label, extra in (("--jobs 2", ["--jobs", "2"]), ("--jobs 2 --threads 1", ["--jobs", "2", "--threads", "1"]),
                             ("--jobs 1", ["--jobs", "1"])):
            out = work / label.replace(" ", "").replace("-", "_")
            say(f"one call, {label}, {n} records")
            seconds = _run(["compress", str(folder), "-o", f"{out}/", *extra, *quality])
            runs.append(Timed(f"one batch call, `{label}`", f"vqcodec compress {LUDB}/ -o OUT/ {label}", n, seconds))
            written = sorted(out.glob("*.vqc"))
            if len(written) != n:
                sys.exit(f"{label}: wrote {len(written)} files for {n} records")
            differ = [r.stem for r in subset if (out / f"{r.stem}.vqc").read_bytes()
                      != (single / f"{r.stem}.vqc").read_bytes()]
            if differ:
                sys.exit(f"{label}: files differ from the single calls' for {', '.join(differ)}")
    singles = runs[0]
    lines = [
        "## Batches: one call for many records (`--part batch`)",
        "",
        "- command: `python benchmarks/scale.py --data DATA --part batch"
        f"{_flag('--single', args.single, SINGLE_SUBSET)}{_flag('--quality', args.quality, None)}"
        f"{_flag('--records', args.records, None)}`",
        f"- date: {datetime.date.today().isoformat()}; code: commit {_commit()}; machine: {_cpu()}, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        f"- records: {'the' if args.records is None else 'the first'} {n} LUDB records ({LUDB}/*.hea: 10 s, 12 "
        "leads, 500 Hz each), the "
        f"default model at {'its default level' if args.quality is None else f'level {args.quality}'}",
        f"- one process per record: {len(subset)} of the {n} records (one in every {step}) timed one `vqcodec "
        f"compress` process each, scaled to {n} records; the batch calls wrote the same bytes as those single calls",
        "- wall time of whole processes, start-up included. The CPU is shared with other work, so the absolute "
        "times are noisy; the ratios within this one run are what counts",
        "",
        "| how | wall s for the set | s/record | records/s | faster than one process per record |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        scaled = f" (scaled from {r.scaled_from})" if r.scaled_from else ""
        lines.append(f"| {r.label} | {r.seconds:.1f}{scaled} | {r.per_record:.3f} | {1 / r.per_record:.2f} | "
                     f"{singles.seconds / r.seconds:.1f}× |")
    best = max(runs[1:], key=lambda r: singles.seconds / r.seconds)
    jobs1 = next(r for r in runs if r.label.endswith("`--jobs 1`"))
    jobs2 = next(r for r in runs if r.label.endswith("`--jobs 2`"))
    jobs2t1 = next(r for r in runs if r.label.endswith("`--jobs 2 --threads 1`"))
    lines += [
        "",
        f"One batch call ({best.label.removeprefix('one batch call, ')}) is {singles.seconds / best.seconds:.1f} "
        f"times faster than one process per record (the goal: {SPEEDUP_GOAL:g}×, "
        f"{'met' if singles.seconds / best.seconds >= SPEEDUP_GOAL else 'not met'}). Against `--jobs 1`, `--jobs 2` "
        f"is {jobs1.seconds / jobs2.seconds:.2f}× and `--jobs 2 --threads 1` {jobs1.seconds / jobs2t1.seconds:.2f}× "
        f"as fast, on {os.cpu_count()} cores: without `--threads`, the `--jobs` workers share the cores (each gets "
        "cores / jobs onnxruntime threads), so the two rows should agree; an explicit `--threads` overrides the share. "
        "A single process spends most of its time starting (importing numpy, onnxruntime, scipy and wfdb) and loading "
        "the model; a batch pays that once per worker.",
    ]
    return lines


def length_part(args: argparse.Namespace) -> list[str]:
    """Time and peak memory against record length, each record compressed and decompressed by its own process
    (benchmarks/scale_length.py builds the records and runs them); with --baseline, the same for another tree's
    code (e.g. a checkout of the release before streaming), in the same run."""
    import scale_length

    names = args.lengths.split(",")
    records = scale_length.build(args.data, args.work, names)
    runs = scale_length.measure(records, args.work)
    lines = ["## Record length: time and peak memory (`--part length`)", "",
             f"- command: `python benchmarks/scale.py --data DATA --part length --lengths {args.lengths}"
             f"{' --baseline TREE' if args.baseline else ''}`",
             f"- date: {datetime.date.today()}; code: {_commit()}; machine: {_cpu()}",
             "- records (built by benchmarks/scale_length.py from the shared data): "
             + "; ".join(f"`{n}`" for n in names),
             "- wall time and peak RSS (`/usr/bin/time`) of whole `vqcodec compress` / `vqcodec decompress` processes, "
             "default level; the time is noisy where the cores are shared, the memory is not", "",
             *scale_length.table(runs, "this tree")]
    if args.baseline:
        base = scale_length.measure({n: records[n] for n in args.baseline_lengths.split(",")}, args.work,
                                    pythonpath=str(args.baseline))
        lines += ["", f"The same records with the code at {args.baseline} (before windows):", "",
                  *scale_length.table(base, "before")]
    if "mitdb24h" in records:
        p = subprocess.run([sys.executable, str(Path(__file__).parent / "range_decode.py"), "--vqc",
                            str(args.work / "mitdb24h.vqc"), "--start", "43200", "--end", "43320", "--runs", "1"],
                           capture_output=True, text=True)
        lines += ["", "Two minutes (12:00:00 to 12:02:00) of the 24-hour file against its whole decode, in one process "
                  "(`benchmarks/range_decode.py --vqc mitdb24h.vqc --start 43200 --end 43320 --runs 1`):", "",
                  f"    {p.stdout.strip() or p.stderr.strip()[-300:]}"]
    return lines


def _setting(path: Path) -> str:
    """The setting a .vqc file was written at, as --max-prdn names it ("quality 8", "max error 1", "lossless")."""
    from vqcodec.api import info

    meta = info(path).meta
    e = getattr(meta, "max_error", None)
    return f"quality {getattr(meta, 'quality', '?')}" if e is None else "lossless" if e == 0 else f"max error {e}"


def prdn_part(args: argparse.Namespace) -> list[str]:
    """`vqcodec compress --max-prdn P` against record length (compress only: the file is an ordinary one), time and
    peak memory; with --baseline, the same for another tree's code in the same run, and whether both wrote the same
    bytes."""
    import scale_length

    names = args.prdn_lengths.split(",")
    records = scale_length.build(args.data, args.work, names)
    flag = ["--max-prdn", f"{args.max_prdn:g}"]
    runs = scale_length.measure(records, args.work, compress_args=flag, decompress=False)
    written = {n: (args.work / f"{n}.vqc").read_bytes() for n in names}
    chosen = {n: _setting(args.work / f"{n}.vqc") for n in names}
    peak = {r.record: r.peak_mb for r in runs}
    lines = ["## `--max-prdn` against record length (`--part prdn`)", "",
             f"- command: `python benchmarks/scale.py --data DATA --part prdn --max-prdn {args.max_prdn:g} "
             f"--prdn-lengths {args.prdn_lengths}{' --baseline TREE' if args.baseline else ''}`",
             f"- date: {datetime.date.today()}; code: {_commit()}; machine: {_cpu()}",
             "- records (built by benchmarks/scale_length.py): " + "; ".join(f"`{n}`" for n in names),
             f"- wall time and peak RSS (`/usr/bin/time`) of whole `vqcodec compress REC.hea -o REC.vqc "
             f"{shlex.join(flag)}` processes; the time is noisy where the cores are shared, the memory is not",
             "- setting chosen: " + "; ".join(f"`{n}` {chosen[n]}" for n in names), "",
             *scale_length.table(runs, "this tree")]
    if len(names) > 1:
        lines += ["", f"Peak memory of `{names[-1]}` over `{names[0]}`: {peak[names[-1]] / peak[names[0]]:.2f}."]
    if args.baseline:
        base = scale_length.measure(records, args.work, pythonpath=str(args.baseline), compress_args=flag,
                                    decompress=False)
        same = [n for n in names if (args.work / f"{n}.vqc").read_bytes() == written[n]]
        lines += ["", f"The same records with the code at {args.baseline}:", "", *scale_length.table(base, "before"),
                  "", f"Same bytes from both trees: {', '.join(same) or 'none'}"
                  + (f"; differ: {', '.join(n for n in names if n not in same)}" if len(same) < len(names) else "")
                  + "."]
    return lines


def aux_part(args: argparse.Namespace) -> list[str]:
    """Records with a signal the model does not code (benchmarks/scale_aux.py builds them), WFDB and EDF, compressed
    and decompressed by their own processes: time and peak memory against length; with --baseline, the same for
    another tree's code in the same run."""
    import scale_aux
    import scale_length

    lengths = args.aux_lengths.split(",")
    records = scale_aux.build(args.data, args.work, lengths)
    runs = scale_aux.measure(records, args.work)
    peak: dict[tuple[str, str], float] = {(r.record, r.what): r.peak_mb for r in runs}
    lines = ["## Records with an aux signal, WFDB and EDF (`--part aux`)", "",
             "- command: `nice -n 10 python benchmarks/scale.py --data DATA --part aux --aux-lengths "
             f"{args.aux_lengths}"
             f"{' --baseline TREE' if args.baseline else ''}`",
             f"- date: {datetime.date.today()}; code: {_commit()}; machine: {_cpu()}",
             "- records (built by benchmarks/scale_aux.py): MIT-BIH's two leads and a breathing-like channel RESP in "
             "litres, which the model does not take: in WFDB records at 360 Hz (`NAME-resp`), and in EDF files at "
             f"{scale_aux.EDF_RESP_FS} Hz beside the leads at 360 Hz (`NAME-resp.edf`)",
             "- wall time and peak RSS (`/usr/bin/time`) of whole `vqcodec compress` (default level: the leads by the "
             "model, RESP lossless without it) / `vqcodec decompress` (to WFDB, and to EDF) processes; the time is "
             "noisy where the cores are shared, the memory is not", "",
             *scale_length.table(runs, "this tree")]
    if len(lengths) > 1:
        lines += [""]
        for kind in ("-resp", "-resp.edf"):
            first, last = f"{lengths[0]}{kind}", f"{lengths[-1]}{kind}"
            lines.append(f"- `{last}` over `{first}`, peak memory: compress "
                         f"{peak[(last, 'compress')] / peak[(first, 'compress')]:.2f}, decompress "
                         f"{peak[(last, 'decompress')] / peak[(first, 'decompress')]:.2f}")
    if args.baseline:
        base = scale_aux.measure(records, args.work, pythonpath=str(args.baseline))
        lines += ["", f"The same records with the code at {args.baseline} (aux signals and EDF read whole):", "",
                  *scale_length.table(base, "before")]
    return lines


PARTS: dict[str, Callable[[argparse.Namespace], list[str]]] = {"batch": batch_part, "length": length_part,
                                                               "prdn": prdn_part, "aux": aux_part}
"""Each part of the results file, by name: a function (args) -> the Markdown lines of its section."""


def _flag(name: str, value: object, default: object) -> str:
    return "" if value == default else f" {name} {value}"


def write_section(path: Path, part: str, lines: list[str]) -> None:
    """Put a part's section into the results file, replacing that part's earlier section and keeping the others."""
    begin, end = f"<!-- part: {part} -->", f"<!-- /part: {part} -->"
    block = "\n".join([begin, *lines, end])
    text = path.read_text() if path.exists() else f"{TITLE}\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path(os.environ.get("VQCODEC_DATA", "data")),
                   help="the data root (default: $VQCODEC_DATA, else data)")
    p.add_argument("--part", choices=[*PARTS, "all"], default="all")
    p.add_argument("--single", type=int, default=SINGLE_SUBSET,
                   help="records timed one process each (batch part), scaled to the whole set")
    p.add_argument("--quality", type=int, default=None, help="quality level (default: the model's)")
    p.add_argument("--records", type=int, default=None, help="batch part: only the first N records (a quick try)")
    p.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vqcodec-scale",
                   help="length part: where the long records and their files go (several GB)")
    p.add_argument("--lengths", default="mitdb30m,mitdb6h,mitdb24h,ptbxl24h12",
                   help="length part: the records (see benchmarks/scale_length.py)")
    p.add_argument("--baseline", type=Path, default=None,
                   help="length part: another tree's root to run as well, for a before/after in one run")
    p.add_argument("--baseline-lengths", default="mitdb30m,mitdb6h", help="length part: the records for --baseline")
    p.add_argument("--max-prdn", type=float, default=5.0, help="prdn part: the target P (%%)")
    p.add_argument("--prdn-lengths", default="mitdb30m,mitdb6h",
                   help="prdn part: the records, shortest first (see benchmarks/scale_length.py)")
    p.add_argument("--aux-lengths", default="mitdb30m,mitdb6h",
                   help="aux part: the joined records to add an aux signal to, shortest first (see scale_aux.py)")
    args = p.parse_args()
    for name in PARTS if args.part == "all" else [args.part]:
        lines = PARTS[name](args)
        write_section(args.out, name, lines)
        print("\n".join(lines))
        print(f"scale: wrote the {name} section of {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
