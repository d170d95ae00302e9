"""The train -> export -> runtime path on a tiny model: never let it break."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import make_signal
from vqcodec.codec import Codec


def test_tiny_model_exports_a_bundle_with_hashes_and_parity(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    # export writes the first four; the fixture then adds the index prior with training/priors.py
    assert set(manifest["files"]) == {"encoder.onnx", "decoder.onnx", "codebooks.npy", "code_bits.npy", "priors.npy"}
    assert manifest["priors"]["indices_counted"] > 0 and len(manifest["compatible_ids"]) == 1
    assert manifest["training"]["command"]
    assert manifest["parity"]["encoder_max_abs"] < 1e-4
    assert manifest["parity"]["decoder_max_abs"] < 1e-4


def test_tiny_model_round_trips_a_signal_through_the_runtime(tiny_bundle):
    codec = Codec.load(tiny_bundle)
    sig = make_signal(3000)
    data, report = codec.compress(sig, quality=3)
    out = codec.decompress(data)
    assert out.samples.shape == sig.samples.shape
    assert report.n_bytes == len(data)
    assert np.isfinite(report.prdn)
    assert [c.name for c in out.channels] == [c.name for c in sig.channels]
