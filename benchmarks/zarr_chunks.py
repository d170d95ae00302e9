"""Bytes per sample of a Zarr array coded by the numcodecs codec "vqcodec", against its chunk length.

    python benchmarks/zarr_chunks.py --data DATA --out benchmarks/results/zarr-chunks.md

Writes the first 30 minutes of MIT-BIH 100 (648 000 samples, both leads, int16) as a Zarr format 2 array on disk
with chunks of 10 s, 1 min, 5 min and 30 min (each a whole number of chunks, so no chunk is padded), at the model's
default level and at max_error 0 (lossless); counts the bytes of the chunk files, reads the array back and
measures what it lost. Each chunk's fixed cost is what is not coded samples: the header (model id, channels, layout
comment), the stored metrics, normalisation, fingerprint and digest sections, CRCs and the binding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

import vqcodec
from vqcodec.container import format as vqc
from vqcodec.io.zarr_codec import VqcCodec

from ecg_cli import preamble

RECORD = Path("ecg", "mitdb", "100")
SECONDS = 1800
CHUNK_SECONDS = (10, 60, 300, 1800)
SETTINGS = {"default level": {}, "max_error 0": {"max_error": 0}}
PAYLOAD_TAGS = ("BLKS", "RESD", "NANM")
"""The sections that hold the coded samples (indices, residuals, invalid runs); the rest is a chunk's fixed cost."""
METADATA_FILES = (".zarray", ".zattrs", ".zgroup")


@dataclass
class Row:
    setting: str
    chunk_s: int
    chunks: int
    n_bytes: int
    overhead: int  # mean bytes per chunk that are not coded samples
    prdn: float
    max_err: int
    write_s: float
    read_s: float
    n_values: int  # samples times channels

    @property
    def bits(self) -> float:
        return 8 * self.n_bytes / self.n_values


def measure(x: np.ndarray, original: vqcodec.Signal, setting: str, chunk_s: int, folder: Path) -> Row:
    """Write x [T, C] as a Zarr array with chunks of chunk_s seconds, read it back, and count and compare."""
    n = int(chunk_s * original.fs)
    path = folder / f"{setting.replace(' ', '_')}_{chunk_s}.zarr"
    z = zarr.create_array(str(path), shape=x.shape, chunks=(n, x.shape[1]), dtype=x.dtype, zarr_format=2,
                          compressors=VqcCodec(fs=original.fs, **SETTINGS[setting]), fill_value=0)  # type: ignore
    t = time.perf_counter()
    z[:] = x
    write_s = time.perf_counter() - t
    chunks = [p for p in path.iterdir() if p.name not in METADATA_FILES]
    t = time.perf_counter()
    y = zarr.open_array(str(path), mode="r")[:]
    read_s = time.perf_counter() - t
    overhead = []
    for p in chunks:
        c = vqc.read(p.read_bytes())
        overhead.append(p.stat().st_size - sum(len(c.sections[t]) for t in PAYLOAD_TAGS if t in c.sections))
    gains = np.array([ch.gain for ch in original.channels])
    baselines = np.array([ch.baseline for ch in original.channels])
    decoded = vqcodec.Signal((y - baselines) / gains, original.fs, original.channels, original.record_name)
    n_bytes = sum(p.stat().st_size for p in chunks)
    prdn = vqcodec.compare(original, decoded, n_bytes).prdn
    return Row(setting, chunk_s, len(chunks), n_bytes, round(float(np.mean(overhead))), prdn,
               int(np.abs(y.astype(np.int64) - x).max()), write_s, read_s, x.size)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the data root (holds ecg/mitdb)")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    sig = vqcodec.read(a.data / RECORD)
    assert isinstance(sig, vqcodec.Signal)
    n = int(SECONDS * sig.fs)
    original = vqcodec.Signal(sig.samples[:n], sig.fs, sig.channels, sig.record_name)
    x = original.digital().astype(np.int16)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in SETTINGS:
            for chunk_s in CHUNK_SECONDS:
                rows.append(measure(x, original, setting, chunk_s, Path(tmp)))
                r = rows[-1]
                print(f"{setting}, {chunk_s} s: {r.bits:.3f} bits/sample, PRDN {r.prdn:.2f} %", flush=True)
    whole = {s: len(vqcodec.compress(original, max_error=SETTINGS[s].get("max_error"))) for s in SETTINGS}
    lines = preamble("Zarr chunk length and the vqcodec numcodecs codec", "; the 2 cores shared with other work, "
                     "so the times are rough") + [
        f"Record: MIT-BIH {RECORD.name}, the first {SECONDS // 60} min ({n} samples, {x.shape[1]} leads, "
        f"int16), as a Zarr format 2 array (zarr {zarr.__version__}) whose chunks span every lead. Bits/sample count "
        "every byte of the chunk files (not .zarray); CR is against the record's 11 bits. PRDN is over the whole "
        "array, max error in ADC units. The fixed cost is the mean bytes per chunk that are not coded samples "
        f"(sections {', '.join(PAYLOAD_TAGS)} are). The same 30 minutes as one .vqc file (`vqcodec.compress`): "
        + ", ".join(f"{s} {8 * size / x.size:.3f} bits/sample" for s, size in whole.items()) + ".",
        "",
        "| setting | chunk | chunks | bytes | bits/sample | CR | fixed cost B/chunk | share of the bytes | PRDN % | "
        "max error | write s | read s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        chunk = f"{r.chunk_s} s" if r.chunk_s < 60 else f"{r.chunk_s // 60} min"
        lines.append(f"| {r.setting} | {chunk} | {r.chunks} | {r.n_bytes} | {r.bits:.3f} | {11 / r.bits:.2f} | "
                     f"{r.overhead} | {100 * r.overhead * r.chunks / r.n_bytes:.1f} % | {r.prdn:.2f} | {r.max_err} | "
                     f"{r.write_s:.1f} | {r.read_s:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
