"""The error-bounded residual layer: the bound on every sample, exact decoding, loud failure on damage."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.signals import make_signal, synthetic_ecg
from vqcodec.coding import residual
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.codec import MODEL_MIN_ERROR
from vqcodec.errors import ChecksumError, FormatError, InputError

TABLES_SHA256 = "da996e8e749c6293d1340594fa9827e0a438f7fb8e41534829c326afe184f916"
"""sha256 of the frequency tables and activity thresholds as written by format 1.1 files."""


def ecg_adc(n: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """[n, channels] int64 ADC samples of a synthetic ECG (gain 200, baseline 1024)."""
    cols = [np.rint(synthetic_ecg(n, seed=seed + c) * 200) + 1024 for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.int64) if channels else np.zeros((n, 0), np.int64)


def prediction(d: np.ndarray, seed: int = 1) -> np.ndarray:
    """A float prediction near d, like a model's reconstruction in ADC units."""
    return d + np.random.default_rng(seed).normal(0, 6, d.shape)


@pytest.mark.parametrize("max_error", [0, 1, 2, 5, 40])
@pytest.mark.parametrize("with_model", [False, True])
def test_every_sample_is_within_the_bound_and_the_decoder_repeats_the_encoder(max_error, with_model):
    d = ecg_adc(5000)
    p = prediction(d) if with_model else None
    payload, recon = residual.encode(d, p, max_error)
    assert np.abs(recon - d).max() <= max_error
    if max_error == 0:
        assert np.array_equal(recon, d)
    assert np.array_equal(residual.decode(payload, p, d.shape, "x.vqc"), recon)


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 2 * residual.LANE_SAMPLES + 3), channels=st.integers(1, 3), max_error=st.integers(0, 7),
       scale=st.sampled_from([1, 50, 30000]), seed=st.integers(0, 2**16))
def test_any_length_and_amplitude_round_trips(n, channels, max_error, scale, seed):
    """Lane edges, short channels, huge steps and escapes: the bound holds and decoding is exact."""
    d = np.random.default_rng(seed).integers(-scale, scale + 1, (n, channels)).astype(np.int64)
    payload, recon = residual.encode(d, None, max_error)
    assert recon.shape == d.shape
    assert n == 0 or np.abs(recon - d).max() <= max_error
    assert np.array_equal(residual.decode(payload, None, d.shape, "x"), recon)


def test_a_prediction_that_moves_less_than_the_guard_decodes_exactly():
    """onnxruntime is not bit-exact across machines: a slightly different prediction must not matter."""
    d = ecg_adc(6000)
    p = prediction(d)
    p[::50] = np.floor(p[::50]) + 0.5  # exactly on rounding boundaries
    payload, recon = residual.encode(d, p, 5)
    moved = p + np.random.default_rng(3).uniform(-0.9, 0.9, p.shape) * residual.ROUND_GUARD
    assert np.array_equal(residual.decode(payload, moved, d.shape, "x"), recon)


def test_a_prediction_that_moves_beyond_the_guard_fails_loudly():
    d = ecg_adc(6000)
    p = prediction(d)
    payload, _ = residual.encode(d, p, 5)
    with pytest.raises(ChecksumError, match="cannot be guaranteed"):
        residual.decode(payload, p + 0.7, d.shape, "x.vqc")


@pytest.mark.slow
def test_damage_anywhere_in_the_payload_never_decodes_silently():
    d = ecg_adc(3000)
    p = prediction(d)
    payload, recon = residual.encode(d, p, 3)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(payload), 200, replace=False):
        bad = bytearray(payload)
        bad[pos] ^= 1 << int(rng.integers(8))
        try:
            out = residual.decode(bytes(bad), p, d.shape, "x.vqc")
        except (FormatError, ChecksumError) as e:
            assert str(e).startswith("x.vqc: ")
        else:  # a flip that changes nothing decoded (e.g. in an unused stream bit) is harmless
            assert np.array_equal(out, recon)


@pytest.mark.parametrize("cut", [0, 5, 30, -1])
def test_a_truncated_payload_is_a_format_error(cut):
    d = ecg_adc(3000)
    payload, _ = residual.encode(d, None, 1)
    with pytest.raises(FormatError):
        residual.decode(payload[: cut if cut >= 0 else len(payload) - 1], None, d.shape, "x")


def test_tables_are_integers_and_frozen():
    """Encoder and decoder build the same tables on every machine; a change would break old files."""
    freq, thresholds = residual.tables()
    assert np.array_equal(freq, np.rint(freq)) and freq.max() < 2**residual.TABLE_BITS and freq.min() >= 1
    digest = hashlib.sha256(freq.astype("<i8").tobytes() + thresholds.astype("<i8").tobytes()).hexdigest()
    assert digest == TABLES_SHA256
    assert np.all(np.diff(thresholds) >= 0)


def test_the_model_layer_is_skipped_below_its_threshold(codec):
    """E < MODEL_MIN_ERROR: no code indices at all, and decoding does not need them."""
    sig = make_signal(4000)
    data, report = codec.compress(sig, max_error=MODEL_MIN_ERROR - 1)
    f = vqc.loads(data)
    assert f.header.n_stages == 0 and f.has_residual and f.fingerprint is None
    out = codec.decompress(data)
    assert np.abs(out.digital() - sig.digital()).max() <= MODEL_MIN_ERROR - 1
    assert report.n_bytes == len(data)


@pytest.mark.parametrize("max_error", [0, 1, MODEL_MIN_ERROR, 8])
def test_codec_round_trip_keeps_the_bound_and_the_nan_runs(codec, max_error):
    sig = make_signal(5000)
    sig.samples[100:140, 0] = np.nan
    data, report = codec.compress(sig, max_error=max_error)
    assert data[8:10] == b"\x01\x00" and data[10] >= 1  # format 1.1 (1.2 when the indices are entropy-coded)
    out = codec.decompress(data)
    valid = ~np.isnan(sig.samples)
    assert np.array_equal(np.isnan(out.samples), ~valid)
    err = np.abs(out.digital() - sig.digital())[valid]
    assert err.max() <= max_error
    assert max(ch.max_err for ch in report.channels) <= max_error / 200 + 1e-12
    assert vqc.loads(data).header.meta["max_error"] == max_error


def test_codec_rejects_a_bound_it_cannot_keep(codec):
    sig = make_signal(100)
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError):
            codec.compress(sig, max_error=bad)
    sig.channels[0].gain = 0.0
    with pytest.raises(InputError, match="gain"):
        codec.compress(sig, max_error=1)


def test_a_file_without_a_model_layer_needs_its_residual_section(codec):
    data, _ = codec.compress(make_signal(2000), max_error=0)
    f = vqc.loads(data)
    f.residual_blocks = None
    del f.header.meta["residual_block"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        broken = vqc.dumps(f)
    with pytest.raises(FormatError, match="needs section RESD"):
        vqc.loads(broken, "b.vqc")


def test_a_small_section_claiming_a_huge_record_is_refused_before_decoding():
    """A decompression bomb: rANS cannot spend less than min_bits_per_sample, so the size check catches it."""
    d = np.zeros((5000, 2), np.int64)
    payload, _ = residual.encode(d, None, 0)
    residual.check_size(payload, "ok")  # a real flat record passes
    head = bytearray(payload)
    head[13:17] = (2**32 - 1).to_bytes(4, "little")  # n_samples in the RESD head (after u32, u32, u16, u16, u8)
    with pytest.raises(FormatError, match="too short"):
        residual.check_size(bytes(head), "bomb.vqc")


@pytest.mark.parametrize("max_error", [0, 2])
def test_both_layouts_round_trip_and_the_adaptive_one_codes_fewer_bits(max_error):
    """Format 1.1's static tables (still written for tests, read for old files) and 1.4's adaptive contexts."""
    d = ecg_adc(40000, seed=3)
    sizes = {}
    for adaptive in (False, True):
        payload, out = residual.encode(d, None, max_error, adaptive=adaptive)
        assert residual.is_adaptive(payload) == adaptive
        assert np.array_equal(residual.decode(payload, None, d.shape, "x"), out)
        assert np.abs(out - d).max() <= max_error
        residual.check_size(payload, "x")
        sizes[adaptive] = len(payload)
    assert sizes[True] < sizes[False]


def test_adaptive_weights_are_integers_capped_below_certainty():
    """A context that has only ever seen one symbol still leaves 1/256 of the weight to the others, so a sample
    costs at least min_bits_per_sample(adaptive=True), on which the bomb check relies."""
    counts = np.zeros((residual.N_CONTEXTS, residual.ALPHABET), np.int64)
    counts[5, residual.RADIX] = 10**9
    w = residual._adaptive_rows(counts, np.array([5, 6]))
    assert np.array_equal(w, np.rint(w)) and w.max() < 2**53
    p = w / w.sum(axis=1, keepdims=True)
    assert p.max() <= residual.MAX_SHARE / (residual.MAX_SHARE + 1) + 1e-12
    assert residual.min_bits_per_sample(adaptive=True) == pytest.approx(-np.log2(255 / 256))


def test_an_adaptive_section_claiming_a_huge_record_is_refused_before_decoding():
    d = np.zeros((5000, 2), np.int64)
    payload, _ = residual.encode(d, None, 0)
    assert residual.is_adaptive(payload)
    residual.check_size(payload, "ok")
    head = bytearray(payload)
    head[13:17] = (2**32 - 1).to_bytes(4, "little")
    with pytest.raises(FormatError, match="too short"):
        residual.check_size(bytes(head), "bomb.vqc")


def test_a_file_with_an_adaptive_residual_layer_is_format_1_4(codec):
    """RESD with the adaptive contexts asks for 1.4; a file written now holds its residual layer in blocks (RESB),
    which asks for 1.11."""
    sig = make_signal(3000, channels=2)
    payload, _ = residual.encode(sig.digital().astype(np.int64), None, 0)
    assert vqc.SECTION_TYPES["RESD"].minor(payload) == 4
    data, _ = codec.compress(sig, max_error=0)
    assert vqc.loads(data).residual_blocks is not None
    assert data[8:12] == bytes([1, 0, ecg_file.RESIDUAL_BLOCKS_MINOR, 0])


def test_residual_blocks_that_do_not_fit_the_record_are_refused(codec):
    """RESB's count and each block's shape follow from n_samples and the header's residual_block; RESD and RESB
    never both."""
    data, _ = codec.compress(make_signal(3000, channels=2), max_error=0)
    f = vqc.loads(data)
    assert f.meta.residual_block == ecg_file.RESIDUAL_BLOCK_SAMPLES and len(f.residual_blocks) == 1
    cases = {"1 blocks, the header implies 3": lambda g: g.header.meta.update(residual_block=1024),
             "gives no residual_block": lambda g: g.header.meta.update(residual_block=0),
             "0 blocks, the header implies 1": lambda g: setattr(g, "residual_blocks", []),
             "is for 2999 x 2 samples": lambda g: setattr(g, "residual_blocks", [residual.encode(
                 make_signal(2999, channels=2).digital().astype(np.int64), None, 0)[0]])}
    for message, edit in cases.items():
        g = vqc.loads(data)
        edit(g)
        with pytest.raises(FormatError, match=message):
            vqc.loads(vqc.dumps(g), "b.vqc")
    g = vqc.loads(data)
    g.residual = residual.encode(make_signal(3000, channels=2).digital().astype(np.int64), None, 0)[0]
    with pytest.raises(ValueError, match="not both"):
        vqc.dumps(g)
