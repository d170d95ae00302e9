"""The tiny ECG model of the tests: its config, the committed bundle, and how to train one (torch); uses signals.py.

The runtime tests load the committed bundle TINY_BUNDLE (no torch). make_tiny_bundle.py wrote it with
train_tiny + add_priors; training tests call train_tiny themselves.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np

from tests.helpers.signals import synthetic_ecg

TINY_BUNDLE = Path(__file__).resolve().parents[1] / "data" / "tiny-ecg"
"""The committed tiny bundle (tests/data/tiny-ecg/), written by tests/helpers/make_tiny_bundle.py."""

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


def train_tiny(root: Path, command: str) -> Path:
    """Train TINY_CONFIG for a few steps on synthetic ECG and export it into root/bundle (the real path; torch)."""
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
