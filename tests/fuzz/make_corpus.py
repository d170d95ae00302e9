"""Write the seed corpus of tests/fuzz/fuzz_format.py: small valid .vqc files, no model needed.

Seeds are kept small (< 2 KB) so the fuzzer mutates structure, not payload. The golden files of
tests/data/golden/v1/ are also copied in. Run once; the seeds are committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from vqcodec.container import format as vf
from vqcodec.ecg.file import EcgFile

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
GOLDEN = HERE.parent / "data" / "golden" / "v1"
SHA = "ab" * 32


def synthetic(n_frames: int, channels: int, stages: int, codebook: int, runs: bool, extras: bool) -> EcgFile:
    """A consistent EcgFile with random indices, built directly at the container level."""
    h = vf.Header("ecg", 360.0, channels, n_frames * 4, n_frames, 4, 16, stages, codebook, SHA,
                  {"model": "seed", "channels": [{"name": f"c{c}"} for c in range(channels)]})
    rng = np.random.default_rng(n_frames * 31 + channels)
    blocks = [rng.integers(0, codebook, (channels, stages, h.block_length(b))).astype(np.uint16)
              for b in range(h.n_blocks)]
    norm = np.ones((h.n_blocks, channels, 2), np.float32)
    nan = np.array([[0, 1, 3]], np.int64) if runs and h.n_samples > 4 else np.zeros((0, 3), np.int64)
    fp = np.zeros((h.n_blocks, channels, 3), np.float32) if extras else None
    metrics = {"prd": [1.0] * channels, "snr": [float("inf")]} if extras else None
    extra = {"zzzz": b"ancillary"} if extras else {}
    return EcgFile(h, blocks, norm, nan, fp, metrics, extra)


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    cases = {
        "empty": synthetic(0, 1, 1, 2, False, False),
        "one_block": synthetic(5, 1, 2, 16, False, False),
        "three_blocks_runs": synthetic(40, 2, 3, 16, True, True),
        "wide_codes": synthetic(9, 1, 1, 1000, True, False),
    }
    for name, f in cases.items():
        (CORPUS / f"{name}.vqc").write_bytes(vf.dumps(f))
    for golden in sorted(GOLDEN.glob("*.vqc")):
        shutil.copy(golden, CORPUS / f"golden_{golden.name}")
    for version in ("1.1", "1.3", "1.4", "1.5", "1.6"):  # RESD, NOTE (MIDI), adaptive RESD, NC03, NC04
        for golden in sorted((GOLDEN.parent / f"v{version}").glob("*.vqc")):
            tag = version.replace(".", "_")
            shutil.copy(golden, CORPUS / f"golden_{tag}_{golden.name.removeprefix('ecg_')}")


if __name__ == "__main__":
    main()
