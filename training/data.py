"""ECG training data: mitdb records from the fixed split, normalised exactly as the runtime does.

Reads the data folder named by VQCODEC_DATA (or the path given), never writes into it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import wfdb

from vqcodec.ecg.framing import normalize_blocks


def data_root(path: str | None = None) -> Path:
    """The shared data folder: `path`, else $VQCODEC_DATA."""
    root = path or os.environ.get("VQCODEC_DATA")
    if not root:
        raise SystemExit("set VQCODEC_DATA to the data folder (e.g. ../shared/data)")
    return Path(root)


def mitdb_split(root: Path, split: str) -> list[str]:
    """Record names of one split of ecg/mitdb/SPLITS.json."""
    splits = json.loads((root / "ecg" / "mitdb" / "SPLITS.json").read_text())
    return [str(r) for r in splits[split]]


def load_record_channels(root: Path, records: list[str], max_samples: int | None = None) -> list[np.ndarray]:
    """Every lead of every record, in physical units (float64), NaN for invalid samples."""
    out = []
    for name in records:
        rec = wfdb.rdrecord(str(root / "ecg" / "mitdb" / name), sampto=max_samples)
        for c in range(rec.p_signal.shape[1]):
            out.append(rec.p_signal[:, c].astype(np.float64))
    return out


def normalized_channels(channels: list[np.ndarray], block_samples: int) -> list[np.ndarray]:
    """Each channel normalised per block as the runtime does (float32, NaN filled with 0)."""
    out = []
    for x in channels:
        x = np.where(np.isnan(x), np.nanmean(x), x)
        xn, _ = normalize_blocks(x, block_samples)
        out.append(xn.astype(np.float32))
    return out


def train_val_arrays(root: Path, data: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The normalised channels of a config's train split (whole records) and val split (its first val_samples)."""
    train = load_record_channels(root, mitdb_split(root, data["train_split"]))
    val = load_record_channels(root, mitdb_split(root, data["val_split"]), data["val_samples"])
    return normalized_channels(train, data["block_samples"]), normalized_channels(val, data["block_samples"])


class TileSampler:
    """Random fixed-length tiles from a list of 1-D arrays, reproducible from a seed."""

    def __init__(self, arrays: list[np.ndarray], tile: int, seed: int) -> None:
        self.arrays = [a for a in arrays if len(a) >= tile]
        self.tile = tile
        self.rng = np.random.default_rng(seed)
        lengths = np.array([len(a) - tile + 1 for a in self.arrays], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def batch(self, size: int) -> np.ndarray:
        """[size, 1, tile] float32."""
        which = self.rng.choice(len(self.arrays), size=size, p=self.weights)
        out = np.empty((size, 1, self.tile), dtype=np.float32)
        for i, k in enumerate(which):
            start = self.rng.integers(0, len(self.arrays[k]) - self.tile + 1)
            out[i, 0] = self.arrays[k][start : start + self.tile]
        return out
