"""Time and peak memory against record length, through the CLI: long records built from the shared data, compressed
and decompressed in separate processes under /usr/bin/time; the section `--part length` of benchmarks/scale.py.

Records (written once into --work, several GB for the largest):
- `mitdb30m`: MIT-BIH 100 as it is (30 min, 2 leads, 360 Hz, fmt 212);
- `mitdb6h`: 12 MIT-BIH records joined (6 h 0 min, 2 leads, 360 Hz, fmt 212);
- `mitdb24h`: the MIT-BIH records joined and repeated to 24 h (2 leads), the length of a Holter study;
- `ptbxl24h12`: the PTB-XL 500 Hz records of the shared ids, 12 leads, upsampled to 1 kHz and repeated to 24 h
  (fmt 16, 1.04 G samples): the issue's largest case.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.io.wfdb import WfdbWriter, read_wfdb

HOUR = 3600


@dataclass
class Run:
    record: str
    hours: float
    channels: int
    fs: float
    what: str  # compress | decompress
    seconds: float
    peak_mb: float
    code: int


def _join(records: list[Path], out: Path, hours: float | None = None, fs: float | None = None) -> Path:
    """Write one WFDB record of the records' samples back to back (the first one's header fields), repeated to
    `hours` if given, resampled to `fs` if given; written window by window, so memory stays small."""
    from scipy.signal import resample_poly

    first = read_wfdb(records[0])
    rate = fs or first.fs
    fmt = "16" if fs else first.channels[0].fmt
    channels = [ChannelInfo(c.name, c.units, c.gain, c.baseline, c.adc_res, c.adc_zero, fmt) for c in first.channels]
    lengths = [read_wfdb_header(r)[0] for r in records]
    n = int(hours * HOUR * rate) if hours else sum(lengths)
    template = Signal(np.lib.stride_tricks.as_strided(np.zeros(1), (n, len(channels)), (0, 0)), rate, channels,
                      out.name)
    writer = WfdbWriter(out, template, force=True)
    left = n
    while left:
        for r in records:
            x = read_wfdb(r).samples
            if fs:
                gain = first.channels[0].gain
                x = np.rint(resample_poly(x, int(fs), int(first.fs), axis=0) * gain) / gain
            writer.write(x[:left])
            left -= min(left, len(x))
            if not left:
                break
    writer.close()
    return out


def build(data: Path, work: Path, which: list[str]) -> dict[str, Path]:
    """The benchmark records named in `which`, built under `work` unless there already."""
    work.mkdir(parents=True, exist_ok=True)
    mitdb = data / "ecg" / "mitdb"
    names = sorted(p.stem for p in mitdb.glob("*.hea"))
    out: dict[str, Path] = {}
    for name in which:
        path = work / name
        if not path.with_suffix(".hea").exists():
            if name == "mitdb30m":
                _join([mitdb / "100"], path)
            elif name == "mitdb6h":
                _join([mitdb / n for n in names[:12]], path)
            elif name == "mitdb24h":
                _join([mitdb / n for n in names], path, hours=24)
            elif name == "ptbxl24h12":
                ptb = sorted((data / "ecg" / "ptbxl" / "records500").rglob("*_hr.hea"))
                _join([p.with_suffix("") for p in ptb], path, hours=24, fs=1000.0)
        out[name] = path
    return out


def _timed(args: list[str], cwd: str | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of a command under /usr/bin/time, run in `cwd`."""
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *args], capture_output=True, text=True, cwd=cwd)
    m = re.search(r"TIME ([\d.]+) (\d+)", p.stderr)
    if p.returncode:
        print(p.stderr[-2000:], file=sys.stderr)
    return (float(m.group(1)), int(m.group(2)) / 1024, p.returncode) if m else (float("nan"), float("nan"),
                                                                                 p.returncode)


def measure(records: dict[str, Path], work: Path, python: str = sys.executable,
            pythonpath: str | None = None, compress_args: Sequence[str] = (), decompress: bool = True) -> list[Run]:
    """Compress then (unless told not to) decompress each record through `python -m vqcodec` (another tree's with
    pythonpath: run from that tree, since `python -m` puts the working directory first on the path), compress with
    `compress_args` (e.g. --max-prdn 5) besides its input and output."""
    env_prefix = ["env", f"PYTHONPATH={pythonpath}"] if pythonpath else []
    runs = []
    for name, path in records.items():
        head = read_wfdb_header(path)
        vqc, out = work / f"{name}.vqc", work / "out" / name
        out.parent.mkdir(exist_ok=True)
        steps = [("compress", ["compress", str(path.resolve()), "-o", str(vqc.resolve()), "--force", *compress_args])]
        if decompress:
            steps.append(("decompress", ["decompress", str(vqc.resolve()), "-o", str(out.resolve()), "--force"]))
        for what, args in steps:
            seconds, peak, code = _timed([*env_prefix, python, "-m", "vqcodec", *args], cwd=pythonpath)
            runs.append(Run(name, head[0] / head[2] / HOUR, head[1], head[2], what, seconds, peak, code))
            print(runs[-1], flush=True)
    return runs


def read_wfdb_header(path: Path) -> tuple[int, int, float]:
    """(samples, channels, fs) from a record's header line."""
    fields = path.with_suffix(".hea").read_text().split("\n", 1)[0].split()
    return int(fields[3]), int(fields[1]), float(fields[2].split("/")[0])


def table(runs: list[Run], label: str) -> list[str]:
    """Markdown rows, one per record: compress (and decompress, where it ran) time and peak RSS."""
    both = any(r.what == "decompress" for r in runs)
    lines = [f"| record | length | channels × rate | {label} compress | peak RSS |"
             + (" decompress | peak RSS |" if both else ""), "|---|---|---|---|---|" + ("---|---|" if both else "")]
    by: dict[str, dict[str, Run]] = {}
    for r in runs:
        by.setdefault(r.record, {})[r.what] = r
    for name, w in by.items():
        c, d = w.get("compress"), w.get("decompress")
        if c is None or (both and d is None):
            continue
        def cell(r: Run) -> str:
            return f"{r.seconds:.1f} s" if r.code == 0 else f"failed ({r.code})"
        row = f"| {name} | {c.hours:.2f} h | {c.channels} × {c.fs:g} Hz | {cell(c)} | {c.peak_mb:,.0f} MB |"
        lines.append(row + (f" {cell(d)} | {d.peak_mb:,.0f} MB |" if d is not None else ""))
    return lines
