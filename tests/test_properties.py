"""Hypothesis properties of the container and the codec, plus determinism (docs/RELIABILITY.md, "Determinism and
tolerance").

Bounded for CI (a few examples each); set VQCODEC_SLOW_TESTS=1 for a long run (the python-zstandard
pattern). Properties already in tests/container/test_format.py (container round trip of random layouts, arbitrary and
mutated bytes) and tests/ecg/test_codec.py (fixed boundary lengths) are extended here, not repeated:
header metadata of any shape and text, mutations that keep every CRC valid (so they reach the checks behind
the CRCs), and lengths, rates and amplitudes drawn at random through the real model.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.fuzz_format import check as fuzz_check
from tests.fuzz.fuzz_format import fix_crcs
from tests.helpers.signals import make_signal
from tests.helpers.vqc import with_meta
from vqcodec.container import format as vf
from vqcodec.ecg.codec import FINGERPRINT_TOL, Codec, Codes
from vqcodec.ecg.file import EcgFile
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import VqcError
from vqcodec.midi.file import MidiFile

SLOW = bool(os.environ.get("VQCODEC_SLOW_TESTS"))
FAST_EXAMPLES, SLOW_EXAMPLES = 10, 500
"""Examples per property: CI, and under VQCODEC_SLOW_TESTS=1."""
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def bounded(fast: int = FAST_EXAMPLES, slow: int = SLOW_EXAMPLES) -> settings:
    """Hypothesis settings: `fast` examples in CI, `slow` with VQCODEC_SLOW_TESTS set; no deadline (shared CPU)."""
    return settings(max_examples=slow if SLOW else fast, deadline=None, suppress_health_check=FIXTURE_OK)


SHA = "cd" * 32
# JSON values as the header meta may hold them: any text (non-ASCII, control characters), nesting, no NaN.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def real_file(codec: Codec) -> bytes:
    sig = make_signal(900, channels=2)
    sig.samples[10:40, 0] = np.nan
    return codec.compress(sig)[0]


# ------------------------------------------------------------------ container


@bounded(fast=25)
@given(
    names=st.lists(st.text(max_size=10), max_size=4),
    comments=st.lists(st.text(max_size=30), max_size=3),
    extra=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4),
    kind=st.sampled_from(["ecg", "midi"]),
    fs=st.floats(1e-3, 1e5, allow_nan=False),
    n_samples=st.integers(0, 2**33),
)
def test_any_header_round_trips_through_serialise_and_parse(
        names: list[str], comments: list[str], extra: dict, kind: str, fs: float, n_samples: int) -> None:
    """Header meta of any text (non-ASCII sig names, empty comment lists) and fields at their limits."""
    meta = {**extra, "channels": [{"name": n} for n in names], "comments": comments}
    if kind == "midi":  # a midi file carries a NOTE section (opaque to the container) and no code layout
        h = vf.Header(kind, fs, 0, n_samples, 0, 1, 1, 0, 2, SHA, meta)
        data = vf.dumps(MidiFile(h, b""))
    else:
        h = vf.Header(kind, fs, 1, n_samples, 0, 4, 50, 1, 16, SHA, meta)
        data = vf.dumps(EcgFile(h, [], np.zeros((0, 1, 2), np.float32)))
    assert vf.loads(data).header == h
    assert vf.read_header(data)[0] == h


@bounded(fast=40, slow=5000)
@given(st.data())
def test_a_mutated_file_with_valid_crcs_still_raises_only_vqc_errors(real_file: bytes, data: st.DataObject) -> None:
    """Mutations with every CRC recomputed get past the checksums and test the structural checks behind them."""
    at = data.draw(st.integers(0, len(real_file) - 1), label="offset")
    junk = data.draw(st.binary(min_size=1, max_size=8), label="junk")
    cut = data.draw(st.booleans(), label="delete instead of overwrite")
    mutated = real_file[:at] + (b"" if cut else junk) + real_file[at + (len(junk) if not cut else 1) :]
    fuzz_check(fix_crcs(mutated))  # parses consistently or raises a VqcError; nothing else escapes


@bounded(fast=25)
@given(meta=st.dictionaries(st.sampled_from(["channels", "comments", "base_time", "base_date", "n_model",
                                             "record"]), json_values, min_size=1, max_size=3))
def test_a_real_file_with_arbitrary_metadata_decodes_or_raises_a_vqc_error(codec: Codec, real_file: bytes,
                                                                           meta: dict) -> None:
    """The header meta passes the CRCs yet is untrusted: the codec may refuse it, never crash on it."""
    try:
        out = codec.decompress(with_meta(real_file, **meta), "meta.vqc")
    except VqcError:
        return
    assert out.samples.shape == (900, 2)


# ------------------------------------------------------------------ codec: lengths, rates, amplitudes


@bounded()
@given(n=st.integers(0, 2000), channels=st.integers(1, 3), fs=st.sampled_from([128.0, 250.0, 257.0, 360.0, 500.0]))
def test_the_decoded_length_equals_the_input_length_at_any_rate(codec: Codec, n: int, channels: int,
                                                                fs: float) -> None:
    """Random lengths (0, 1 and block edges included by hypothesis' shrinking) through resampling and back."""
    sig = make_signal(n, channels=channels, fs=fs)
    out = codec.decompress(codec.compress(sig)[0])
    assert out.samples.shape == (n, channels) and out.fs == fs
    assert np.isfinite(out.samples).all()


@pytest.mark.parametrize("offset", [-1, 0, 1])
@pytest.mark.parametrize("unit", ["hop", "block"])
def test_the_decoded_length_equals_the_input_length_at_model_boundaries(codec: Codec, unit: str,
                                                                        offset: int) -> None:
    """hop±1 and block±1 for 1 channel (test_codec covers ±2 for 2 channels), plus length 0 and 1 below."""
    base = codec.hop if unit == "hop" else codec.block_samples
    for n in {0, 1, base + offset, 2 * base + offset}:
        out = codec.decompress(codec.compress(make_signal(n, channels=1))[0])
        assert out.samples.shape == (n, 1), n


@bounded()
@given(scale=st.floats(1e-3, 1e3), shape=st.sampled_from(["ecg", "flat", "rails", "spikes"]))
def test_any_amplitude_gives_a_finite_reconstruction_and_explained_metrics(codec: Codec, scale: float,
                                                                           shape: str) -> None:
    """Catalog 25: flat lines, saturated rails and 50 mV spikes never produce NaN/inf or a ZeroDivisionError."""
    n = 720
    x = make_signal(n, channels=1).samples[:, 0] * scale
    if shape == "flat":
        x = np.full(n, round(scale, 2))
    elif shape == "rails":
        x = np.where(np.arange(n) % 200 < 100, 5.0, -5.0)
    elif shape == "spikes":
        x = x.copy()
        x[::97] = 50.0
    ch = ChannelInfo("a", "mV", 1000.0, 0, 32, 0, "32")
    sig = Signal(np.rint(x[:, None] * 1000) / 1000, 360.0, [ch])
    data, report = codec.compress(sig)
    out = codec.decompress(data)
    assert np.isfinite(out.samples).all()
    (c,) = report.channels
    assert math.isfinite(c.max_err) and math.isfinite(c.rmse)
    assert math.isfinite(c.prdn) or c.note  # undefined only with a reason ("flat channel ...")


# ------------------------------------------------------------------ determinism


def test_the_same_input_and_model_give_the_same_bytes_across_fresh_sessions(tiny_bundle: Path) -> None:
    """Two separately loaded codecs (fresh onnxruntime sessions) write byte-identical files."""
    sig = make_signal(2500, channels=2)
    sig.samples[5:9, 1] = np.nan
    first = Codec.load(tiny_bundle, threads=1).compress(sig)[0]
    second = Codec.load(tiny_bundle, threads=1).compress(sig)[0]
    assert first == second


def test_decoding_with_1_and_2_threads_agrees_within_the_stated_tolerance(tiny_bundle: Path,
                                                                           real_file: bytes) -> None:
    """onnxruntime may reorder float sums across threads: normalised output within FINGERPRINT_TOL / 100,
    decoded samples within one ADC step (a rounding may flip), NaN positions identical."""
    one, two = Codec.load(tiny_bundle, threads=1), Codec.load(tiny_bundle, threads=2)
    f = vf.loads(real_file)
    codes_one = one.decompress(real_file)
    codes_two = two.decompress(real_file)
    np.testing.assert_array_equal(np.isnan(codes_one.samples), np.isnan(codes_two.samples))
    for c, ch in enumerate(codes_one.channels):
        np.testing.assert_allclose(codes_two.samples[:, c], codes_one.samples[:, c], rtol=0, atol=1 / ch.gain,
                                   equal_nan=True)
    codes = Codes(one.file_indices(f), f.norm, int(f.header.meta["n_model"]))
    np.testing.assert_allclose(two.decode_normalized(codes), one.decode_normalized(codes), rtol=0,
                               atol=FINGERPRINT_TOL / 100)


def test_warnings_are_not_needed_to_decode_a_real_file(codec: Codec, real_file: bytes) -> None:
    """A clean file decodes without a single warning (so any warning in the CLI means something)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = codec.decompress(real_file)
    assert out.samples.shape == (900, 2)
