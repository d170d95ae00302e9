"""Time and peak memory of records with a signal the model does not code (an aux signal), WFDB and EDF, through the CLI;
the section `--part aux` of benchmarks/scale.py.

Records (written once into --work, built window by window from benchmarks/scale_length.py's joined MIT-BIH records):
- `mitdb30m-resp`, `mitdb6h-resp`: WFDB records of MIT-BIH's two leads (360 Hz, fmt 212) and a third channel RESP in
  litres at the same rate, a breathing-like wave (see `respiration`), which the model does not take (its units), so it
  is coded without the model, aux block by aux block;
- `mitdb30m-resp.edf`, `mitdb6h-resp.edf`: EDF files of the same two leads (360 samples per 1 s data record) and the
  same wave at 25 Hz, an aux signal at its own rate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_length  # noqa: E402

from vqcodec.ecg.signal import ChannelInfo, Signal  # noqa: E402
from vqcodec.io.edf import EdfWriter  # noqa: E402
from vqcodec.io.wfdb import WfdbSource, WfdbWriter  # noqa: E402

RESP = ChannelInfo("RESP", "l", 1000.0, 0, 12, 0, "212")
"""The aux channel of the WFDB records: litres (units the ECG model does not take), 1 ADC step = 1 ml."""
EDF_RESP_FS = 25
"""The rate of the EDF files' respiration signal (samples per 1 s data record)."""
WINDOW = 1 << 18
"""Samples per window while the records are built."""


def respiration(t: np.ndarray) -> np.ndarray:
    """A breathing-like wave in litres at times t (s): about 15 breaths a minute whose rate and depth drift slowly,
    plus a little deterministic noise, rounded to whole ml."""
    phase = 2 * np.pi * 0.25 * t + 1.5 * np.sin(2 * np.pi * t / 300)
    depth = 0.4 + 0.1 * np.sin(2 * np.pi * t / 1300)
    noise = 0.004 * (np.modf(np.sin(t * 1.29898e3) * 43758.5453)[0])
    return np.rint(1000 * (depth * np.sin(phase) + 0.05 * np.sin(2 * np.pi * t / 97) + noise)) / 1000


def _edf_header(n_records: int, ecg: list[str], name: str) -> bytes:
    """An EDF header (1 s data records): the ECG leads at 360 Hz, digital -1024..1023 over -5.12..5.115 mV (MIT-BIH's
    200 ADC units per mV), and RESP at EDF_RESP_FS Hz, -32768..32767 over -32.768..32.767 l."""
    signals = [(lead, "mV", -5.12, 5.115, -1024, 1023, 360) for lead in ecg]
    signals.append(("RESP", "l", -32.768, 32.767, -32768, 32767, EDF_RESP_FS))

    def field(text: object, width: int) -> bytes:
        return str(text).encode("ascii").ljust(width)[:width]

    ns = len(signals)
    fixed = (b"0       " + field(f"X X X {name}", 80) + field("Startdate X X X X", 80) + b"01.01.00" + b"00.00.00"
             + field(256 * (1 + ns), 8) + field("", 44) + field(n_records, 8) + field(1, 8) + field(ns, 4))
    columns = [(0, 16), (None, 80), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (None, 80), (6, 8), (None, 32)]
    body = b"".join(field("" if k is None else s[k], w) for k, w in columns for s in signals)
    return fixed + body


def build(data: Path, work: Path, lengths: list[str]) -> dict[str, Path]:
    """The WFDB and EDF records with an aux signal for each joined record named in `lengths` (mitdb30m, mitdb6h),
    built under `work` unless there already: {name: path}."""
    joined = scale_length.build(data, work, lengths)
    out: dict[str, Path] = {}
    for name, path in joined.items():
        wfdb, edf = work / f"{name}-resp", work / f"{name}-resp.edf"
        source = WfdbSource(path)
        n = source.n_samples - source.n_samples % 360  # whole 1 s data records in the EDF file
        if not wfdb.with_suffix(".hea").exists():
            template = Signal(np.lib.stride_tricks.as_strided(np.zeros(1), (n, 3), (0, 0)), source.fs,
                              [*source.channels, RESP], wfdb.name)
            writer = WfdbWriter(wfdb, template, force=True)
            for a in range(0, n, WINDOW):
                z = min(n, a + WINDOW)
                writer.write(np.column_stack([source.read(a, z), respiration(np.arange(a, z) / source.fs)]))
            writer.close()
        if not edf.exists():
            records = n // 360
            writer_e = EdfWriter(edf, _edf_header(records, [ch.name for ch in source.channels], name), b"", records,
                                 force=True)
            step = WINDOW // 360
            for r0 in range(0, records, step):
                r1 = min(records, r0 + step)
                x = source.read(r0 * 360, r1 * 360)
                digital = [np.rint(x[:, c] * ch.gain).astype(np.int64) for c, ch in enumerate(source.channels)]
                resp = respiration(np.arange(r0 * EDF_RESP_FS, r1 * EDF_RESP_FS) / EDF_RESP_FS)
                writer_e.write([*digital, np.rint(resp * 1000).astype(np.int64)])
            writer_e.close()
        out[wfdb.name], out[edf.name] = wfdb, edf
    return out


def measure(records: dict[str, Path], work: Path, python: str = sys.executable,
            pythonpath: str | None = None) -> list[scale_length.Run]:
    """Compress then decompress each record through `python -m vqcodec` (default level: the leads by the model, RESP
    lossless without it), as scale_length.measure does; an EDF file decodes to an EDF file."""
    env_prefix = ["env", f"PYTHONPATH={pythonpath}"] if pythonpath else []
    runs = []
    for name, path in records.items():
        head = (_edf_samples(path), 2, 360.0) if path.suffix == ".edf" else scale_length.read_wfdb_header(path)
        vqc, out = work / f"{name}.vqc", work / "out" / name
        out.parent.mkdir(exist_ok=True)
        steps = [("compress", ["compress", str(path.resolve()), "-o", str(vqc.resolve()), "--force"]),
                 ("decompress", ["decompress", str(vqc.resolve()), "-o", str(out.resolve()), "--force"])]
        for what, args in steps:
            seconds, peak, code = scale_length._timed([*env_prefix, python, "-m", "vqcodec", *args], cwd=pythonpath)
            runs.append(scale_length.Run(name, head[0] / head[2] / scale_length.HOUR, head[1], head[2], what, seconds,
                                         peak, code))
            print(runs[-1], flush=True)
    return runs


def _edf_samples(path: Path) -> int:
    """Samples of the first signal of an EDF file written by `build` (360 per data record)."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    return int(head[236:244].decode("ascii").strip()) * 360
