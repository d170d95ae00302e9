"""Fixtures of the training tests: a tiny model trained here, with its checkpoint (needs torch; skips without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.signals import make_signal
from tests.helpers.tiny import train_tiny
from vqcodec.ecg.codec import Codec


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained and exported through the real train -> export path, with an index prior counted on
    synthetic ECG by training/priors.py; its checkpoint is bundle.parent / "run" / "best.pt"."""
    pytest.importorskip("torch")
    from training.priors import add_priors, count_bigrams

    bundle = train_tiny(tmp_path_factory.mktemp("trained"), "tests/training/conftest.py::trained_bundle")
    signals = [make_signal(6000, channels=2, seed=s) for s in (11, 12)]
    add_priors(bundle, count_bigrams(Codec.load(bundle, threads=1), signals), "tests/training/conftest.py")
    return bundle
