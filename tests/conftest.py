"""Shared fixtures: the real-data folder (VQCODEC_DATA), synthetic ECG, and a tiny trained model bundle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vqcodec.ecg.codec import Codec
from vqcodec.ecg.signal import ChannelInfo, Signal

DATA_ENV = "VQCODEC_DATA"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the shared data (e.g. /work/shared/data); skips the test when VQCODEC_DATA is unset or names a
    folder that is not there (.ci/run defaults it to ../shared/data, absent in a clone made elsewhere)."""
    root = os.environ.get(DATA_ENV)
    if not root:
        pytest.skip(f"{DATA_ENV} is not set; set it to the shared data root to run real-data tests")
    if not Path(root).is_dir():
        pytest.skip(f"{DATA_ENV}={root} is not a folder (resolved from {Path.cwd()}); real-data tests skipped")
    return Path(root)


TINY_CONFIG = {
    "name": "tiny-test",
    "kind": "ecg",
    "data": {"train_split": "train", "val_split": "val", "fs": 360.0, "block_seconds": 2.0, "tile": 256,
             "val_samples": 1024},
    "model": {"channels": [4, 8, 8], "strides": [2, 2], "dilations": [1], "latent": 4, "stages": 3, "codes": 16},
    "train": {"seed": 1, "steps": 4, "batch": 4, "lr": 1e-3, "lr_min": 1e-4, "warmup": 1, "commit_weight": 0.25,
              "clip": 1.0, "log_every": 1, "eval_every": 4, "threads": 1},
}
"""A model small enough to train for a few steps inside a test (hop 4, 3 stages of 16 codes)."""


def synthetic_ecg(n: int, fs: float = 360.0, seed: int = 0, amplitude: float = 1.0) -> np.ndarray:
    """An ECG-like 1-D signal in mV: Gaussian P/QRS/T bumps at ~70 bpm, baseline wander, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = 0.1 * np.sin(2 * np.pi * 0.3 * t) + 0.01 * rng.standard_normal(n)
    beat, end = 0.0, n / fs + 1
    while beat < end:
        for offset, width, height in ((-0.2, 0.025, 0.15), (0.0, 0.01, 1.0), (0.25, 0.04, 0.3)):
            x += height * np.exp(-0.5 * ((t - beat - offset) / width) ** 2)
        beat += 60 / 70 * (1 + 0.05 * rng.standard_normal())
    return amplitude * x


def make_signal(n: int, channels: int = 2, fs: float = 360.0, seed: int = 0) -> Signal:
    """A WFDB-like Signal (fmt 212, gain 200, baseline 1024) on the ADC grid."""
    cols = [synthetic_ecg(n, fs, seed + c, 1.0 / (c + 1)) for c in range(channels)]
    x = np.stack(cols, axis=1) if channels else np.zeros((n, 0))
    infos = [ChannelInfo(f"ch{c}", "mV", 200.0, 1024, 11, 1024, "212") for c in range(channels)]
    x = np.rint(x * 200) / 200
    return Signal(x, fs, infos, "synth")


def train_tiny(root: Path, command: str) -> Path:
    """Train TINY_CONFIG for a few steps on synthetic ECG and export it into root/bundle (the real path)."""
    import copy
    import math

    from training.export import export
    from training.train import train

    cfg = copy.deepcopy(TINY_CONFIG)
    hop = math.prod(cfg["model"]["strides"])
    cfg["data"]["block_frames"] = round(cfg["data"]["block_seconds"] * cfg["data"]["fs"] / hop)
    cfg["data"]["block_samples"] = cfg["data"]["block_frames"] * hop
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(3)]
    val = [synthetic_ecg(1024, seed=9).astype(np.float32)]
    best = train(cfg, arrays, val, root / "run")
    export(best, root / "bundle", default_quality=2, command=command)
    return root / "bundle"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained and exported through the real train -> export path, with an index prior counted
    on synthetic ECG by training/priors.py (as the shipped model has)."""
    pytest.importorskip("torch")
    from training.priors import add_priors, count_bigrams

    bundle = train_tiny(tmp_path_factory.mktemp("tiny"), "tests/conftest.py::tiny_bundle")
    signals = [make_signal(6000, channels=2, seed=s) for s in (11, 12)]
    add_priors(bundle, count_bigrams(Codec.load(bundle, threads=1), signals), "tests/conftest.py::tiny_bundle")
    return bundle


@pytest.fixture(scope="module")
def codec(tiny_bundle: Path) -> Codec:
    """The tiny model loaded once per test module, on one thread (deterministic and light on CPU)."""
    return Codec.load(tiny_bundle, threads=1)
