"""Regenerate benchmarks/results/ecg-test.md (+ .json and PNGs): `vqcodec bench` on the 8 mitdb test records.

    python benchmarks/bench_ecg.py --data /work/shared/data [--model ecg] [--seconds 60]

vqcodec runs at every quality level of the model, against every baseline; the report starts with the
command, the date and the machine (CPU, Python, library versions) so the numbers can be reproduced.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path

from vqcodec.api import DEFAULT_MODEL, write_bytes
from vqcodec.bench import ecg as bench
from vqcodec.ecg.codec import Codec
from vqcodec.errors import VqcError

DATA_ENV = "VQCODEC_DATA"
MITDB = Path("ecg") / "mitdb"
SPLIT_FILE = "SPLITS.json"
SPLIT = "test"
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "ecg-test"
OVERLAY_WINDOW = (60.0, 8.0)
"""Overlay: 8 s starting one minute in (clamped to the record on shorter runs)."""
VERSIONED = ("vqcodec", "numpy", "scipy", "onnxruntime", "zstandard", "soundfile", "pysz", "PyWavelets", "wfdb",
             "matplotlib")


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> list[str]:
    """Lines describing where the numbers were measured."""
    versions = []
    for dist in VERSIONED:
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    return [
        f"- machine: {cpu_name()}, {os.cpu_count()} logical CPUs, {platform.platform()}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get(DATA_ENV),
                        help=f"shared data root holding {MITDB} (default: ${DATA_ENV})")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="vqcodec model name or bundle folder")
    parser.add_argument("--seconds", type=float, default=None, help="only the first SECONDS of each record")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error(f"give --data or set {DATA_ENV}")
    folder = args.data / MITDB
    records = bench.find_records([folder], folder / SPLIT_FILE, SPLIT)
    bench.check_output(args.out, records)
    codec = Codec.load(args.model)
    methods, missing = bench.build_methods(bench.FAMILIES, codec)
    for why in missing.values():
        print(f"bench_ecg: skipped {why}", file=sys.stderr)
    keep = bench.overlay_target(methods, records, codec)
    model = f"{codec.name} (sha256 {codec.model_id})"
    say = lambda msg: print(f"bench_ecg: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    started = datetime.datetime.now(datetime.timezone.utc)
    result = bench.run(records, methods, args.seconds, True, keep, model, missing, say)
    minutes = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60
    command = shlex.join(["python", "benchmarks/bench_ecg.py", *(argv if argv is not None else sys.argv[1:])])
    args.out.mkdir(parents=True, exist_ok=True)
    plots = bench.write_plots(result, args.out, f"{NAME}-", OVERLAY_WINDOW)
    header = [
        f"# vqcodec bench: MIT-BIH `{SPLIT}` split ({len(records)} records)", "",
        f"- command: `{command}`",
        f"- date: {started:%Y-%m-%d %H:%M} UTC ({minutes:.1f} min)",
        *machine(),
        f"- figures: {', '.join(f'[{p.name}]({p.name})' for p in plots)}", "",
    ]
    write_bytes(args.out / f"{NAME}.md", ("\n".join(header) + "\n" + bench.markdown(result)).encode(), force=True)
    write_bytes(args.out / f"{NAME}.json", bench.to_json(result, command).encode(), force=True)
    say(f"wrote {args.out / f'{NAME}.md'}, {NAME}.json and {len(plots)} figures")


if __name__ == "__main__":
    try:
        main()
    except VqcError as e:
        sys.exit(f"bench_ecg: {e}")
