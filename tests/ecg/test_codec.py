"""Codec behaviour on a tiny real model: lengths, NaN runs, resampling, determinism, model binding."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.signals import make_signal
from vqcodec.container import format as vqc
from vqcodec.ecg import codec as codec_module
from vqcodec.ecg import search as search_module
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.conditioning import nan_runs
from vqcodec.ecg.framing import reach
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import BundleError, ChecksumError, InputError, ModelMismatchError


def _lengths(codec: Codec) -> list[int]:
    hop, norm, block = codec.hop, codec.norm_samples, codec.block_samples
    return [1, hop - 1, hop, hop + 1, 5 * hop - 2, 5 * hop + 2, norm - 2, norm + 2, block - 2, block, block + 2,
            2 * block + 1]


def test_decoded_length_equals_input_length_at_every_boundary(codec):
    for n in _lengths(codec):
        sig = make_signal(n, channels=2)
        out = codec.decompress(codec.compress(sig)[0])
        assert out.samples.shape == (n, 2), n


def test_empty_signal_round_trips_to_empty(codec):
    sig = make_signal(0, channels=1)
    out = codec.decompress(codec.compress(sig)[0])
    assert out.samples.shape == (0, 1)


def test_no_channels_is_refused(codec):
    with pytest.raises(InputError, match="nothing to compress"):
        codec.compress(Signal(np.zeros((10, 0)), 360.0, []))


def test_nan_runs_come_back_at_exactly_the_same_positions(codec):
    sig = make_signal(2000, channels=3)
    sig.samples[:7, 0] = np.nan
    sig.samples[500:640, 1] = np.nan
    sig.samples[-3:, 1] = np.nan
    sig.samples[:, 2] = np.nan
    out = codec.decompress(codec.compress(sig)[0])
    np.testing.assert_array_equal(np.isnan(out.samples), np.isnan(sig.samples))


def test_nan_runs_lists_channel_start_length():
    mask = np.zeros((10, 2), dtype=bool)
    mask[2:5, 1] = True
    mask[9, 0] = True
    assert nan_runs(mask).tolist() == [[0, 9, 1], [1, 2, 3]]


def test_per_channel_gain_baseline_and_grid_are_restored(codec):
    sig = make_signal(1500, channels=2)
    sig.channels[1] = ChannelInfo("V1", "uV", 1.0, -5, 16, 0, "16")
    sig.samples[:, 1] = np.rint(sig.samples[:, 1] * 1000)
    out = codec.decompress(codec.compress(sig)[0])
    assert out.channels == sig.channels
    digital = out.samples[:, 1] * 1.0 - 5
    np.testing.assert_array_equal(digital, np.rint(digital))


def test_other_sampling_rates_are_resampled_and_back(codec):
    for fs in (250.0, 500.0, 1000.0):
        sig = make_signal(int(fs * 3), channels=1, fs=fs)
        out = codec.decompress(codec.compress(sig)[0])
        assert out.fs == fs and out.samples.shape == sig.samples.shape


def test_compress_is_deterministic(codec):
    sig = make_signal(3000)
    assert codec.compress(sig)[0] == codec.compress(sig)[0]


def test_chunked_inference_matches_one_pass(codec, monkeypatch):
    sig = make_signal(6000, channels=1)
    whole = codec.encode_model_rate(sig.samples, 3)
    monkeypatch.setattr(codec_module, "ENCODE_CHUNK", 512)
    monkeypatch.setattr(codec_module, "ENCODE_MARGIN", 256)
    monkeypatch.setattr(codec_module, "DECODE_CHUNK", 64)
    monkeypatch.setattr(codec_module, "DECODE_MARGIN", 64)
    parts = codec.encode_model_rate(sig.samples, 3)
    assert np.mean(whole.indices == parts.indices) > 0.999
    np.testing.assert_allclose(codec.decode_model_rate(parts), codec.decode_model_rate(parts), atol=0)
    monkeypatch.undo()
    one = codec.decode_model_rate(parts)
    monkeypatch.setattr(codec_module, "DECODE_CHUNK", 64)
    monkeypatch.setattr(codec_module, "DECODE_MARGIN", 64)
    np.testing.assert_allclose(codec.decode_model_rate(parts), one, atol=1e-4)


def test_quality_out_of_range_is_an_input_error(codec):
    with pytest.raises(InputError, match="quality"):
        codec.compress(make_signal(100), quality=max(codec.qualities) + 1)


def test_more_stages_do_not_lose_more(codec):
    sig = make_signal(4000, channels=1)
    prdn = [codec.compress(sig, q)[1].prdn for q in codec.qualities]
    sizes = [len(codec.compress(sig, q)[0]) for q in codec.qualities]
    assert sizes == sorted(sizes)
    assert prdn[-1] <= prdn[0] * 1.05


def test_inf_is_refused(codec):
    sig = make_signal(100)
    sig.samples[3, 0] = np.inf
    with pytest.raises(InputError, match="inf"):
        codec.compress(sig)


def test_a_file_from_another_model_fails_showing_both_hashes(codec, tiny_bundle, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_bundle, other)
    manifest = (other / "manifest.json").read_text().replace('"tiny-test"', '"tiny-retrained"')
    (other / "manifest.json").write_text(manifest)
    data = codec.compress(make_signal(500))[0]
    retrained = Codec.load(other)
    with pytest.raises(ModelMismatchError) as e:
        retrained.decompress(data)
    assert codec.model_id in str(e.value) and retrained.model_id in str(e.value)


def _with_context(tiny_bundle, tmp_path, context) -> Path:
    bundle = tmp_path / "wide"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["context"] = context
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


def test_a_bundle_reaching_further_than_the_defaults_gets_wider_chunk_margins(tiny_bundle, tmp_path):
    tiny = Codec.load(tiny_bundle)
    assert (tiny.encode_margin, tiny.decode_margin) == (codec_module.ENCODE_MARGIN, codec_module.DECODE_MARGIN)
    wide = Codec.load(_with_context(tiny_bundle, tmp_path, {"encoder_samples": 1001, "decoder_frames": 100}))
    assert wide.encode_margin == -(-1001 // wide.hop) * wide.hop and wide.encode_margin % wide.hop == 0
    assert wide.decode_margin == 100
    sig = make_signal(3000)
    assert wide.decompress(wide.compress(sig, quality=3)[0]).samples.shape == sig.samples.shape


@pytest.mark.parametrize("context", [{"encoder_samples": -1}, {"decoder_frames": 1.5}, {"decoder_frames": 1 << 30},
                                     ["encoder_samples"]])
def test_a_malformed_context_is_a_bundle_error(tiny_bundle, tmp_path, context):
    with pytest.raises(BundleError, match="context"):
        Codec.load(_with_context(tiny_bundle, tmp_path, context))


@pytest.mark.parametrize("name", ["ecg-v1", "ecg-v2", "ecg-v3", "ecg-v4", "ecg-v5"])
def test_the_shipped_models_reach_within_the_default_margins(name):
    """Measured as training.export measures a new bundle: the constants cover the shipped graphs (a decode-only
    earlier model's decoder alone, on sums of random codes)."""
    codec = Codec.load(name, threads=1)
    x = np.random.default_rng(0).standard_normal((1, 1, 8192)).astype(np.float32)
    cb = codec.bundle.codebooks
    codes = np.random.default_rng(1).integers(0, codec.codes, (codec.stages, 8192 // codec.hop))
    latent = np.ascontiguousarray(sum(cb[s][codes[s]] for s in range(codec.stages)).T[None], dtype=np.float32)
    decode = lambda a: codec._decoder.run(None, {"latent": a})[0]  # noqa: E731
    if not codec.bundle.decode_only:
        encode = lambda a: codec._encoder.run(None, {"signal": a})[0]  # noqa: E731
        assert reach(encode, x, 1 / codec.hop) <= codec_module.ENCODE_MARGIN
        latent = encode(x)
    assert reach(decode, latent, codec.hop) <= codec_module.DECODE_MARGIN


def test_a_tampered_bundle_fails_at_load(tiny_bundle, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_bundle, bad)
    raw = bytearray((bad / "decoder.onnx").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (bad / "decoder.onnx").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="sha256"):
        Codec.load(bad)


def test_a_misbehaving_decoder_is_caught_by_the_fingerprint(tiny_bundle):
    codec = Codec.load(tiny_bundle)
    data = codec.compress(make_signal(2000))[0]
    real = codec._decoder

    class Skewed:  # the real decoder session, its output off by a gain and an offset
        def run(self, names, feeds):
            return [real.run(names, feeds)[0] * 1.1 + 0.1]

    codec._decoder = Skewed()
    with pytest.raises(ChecksumError, match="fingerprint"):
        codec.decompress(data)


def test_max_prdn_picks_the_cheapest_setting_that_meets_it(codec):
    sig = make_signal(6000)
    runs = {q: codec.compress(sig, q) for q in codec.qualities}
    target = sorted(r.worst_prdn for _, r in runs.values())[len(runs) // 2]
    cheapest = min(len(d) for d, r in runs.values() if r.worst_prdn <= target)
    data, report, setting = codec.compress_to_prdn(sig, target)
    assert report.worst_prdn <= target and report.n_bytes == len(data)
    if setting.startswith("quality"):  # the ladder's answer, the cheapest level that meets the target
        level = int(setting.split()[1])
        assert len(data) == cheapest and report.prdn == runs[level][1].prdn
        assert vqc.loads(data).header.meta["quality"] == level
    else:  # the residual layer, when it is smaller still
        assert len(data) < cheapest
    assert codec.compress_to_prdn(sig, 1e6)[2] == f"quality {codec.qualities[0]}"
    with pytest.raises(InputError):
        codec.compress_to_prdn(sig, -1.0)


def test_max_prdn_beyond_the_ladder_takes_the_residual_layer_and_lossless_meets_any_target(codec):
    sig = make_signal(6000)
    target = 0.99 * codec.compress(sig, codec.qualities[-1])[1].worst_prdn  # the top level misses it
    bounded = {e: codec.compress(sig, max_error=e) for e in (1, 2, 3)}
    data, report, setting = codec.compress_to_prdn(sig, target)
    assert report.worst_prdn <= target
    meets = [e for e, (_, r) in bounded.items() if r.worst_prdn <= target]
    if meets:  # a max error: no more bytes than the largest of these that meets the target
        assert setting.startswith("max error") and len(data) <= len(bounded[max(meets)][0])
    data, report, setting = codec.compress_to_prdn(sig, 1e-6)
    assert setting == "lossless" and report.prdn == 0 and vqc.loads(data).header.meta["max_error"] == 0
    np.testing.assert_array_equal(codec.decompress(data).samples, sig.samples)


def test_a_channel_without_an_adc_gain_is_refused(codec):
    sig = make_signal(600)
    no_gain = Signal(sig.samples, sig.fs, [replace(ch, gain=float("nan")) for ch in sig.channels], "no-gain")
    with pytest.raises(InputError, match="no-gain: every channel needs an ADC gain"):
        codec.compress(no_gain)


def _path_cost(seq: np.ndarray, dist: np.ndarray, bits: np.ndarray, starts: set[int]) -> float:
    k = bits.shape[1]
    return float(sum(dist[t, seq[t]] + bits[k if t in starts else seq[t - 1], seq[t]] for t in range(len(seq))))


@pytest.mark.parametrize("lane", [3, 256])
def test_the_trellis_finds_each_lanes_cheapest_index_sequence(monkeypatch, lane):
    """Against brute force over every sequence: the search restarts at every lane and storage block start."""
    import itertools

    from vqcodec.coding import entropy

    monkeypatch.setattr(entropy, "LANE_FRAMES", lane)
    rng = np.random.default_rng(5)
    k = 4
    for _ in range(25):
        f, block = int(rng.integers(1, 8)), int(rng.integers(2, 9))
        dist = rng.random((f, k)).astype(np.float32)
        bits = (2 * rng.random((k + 1, k))).astype(np.float32)
        starts = {t for t in range(f) if t % block % lane == 0}
        got = search_module.trellis_in_time(np.broadcast_to(np.arange(k), (f, k)), dist, bits, block)
        best = min(_path_cost(np.array(s), dist, bits, starts) for s in itertools.product(range(k), repeat=f))
        assert _path_cost(got, dist, bits, starts) == pytest.approx(best, abs=1e-5)


def test_candidates_are_the_codes_nearest_after_the_floor(codec):
    rng = np.random.default_rng(6)
    r = rng.standard_normal((300, codec._cb.shape[2])).astype(np.float32)
    floor = rng.random(codec.codes).astype(np.float32)
    cand, near = codec.search.candidates(r, 0, floor, 5)
    dist = codec.search.distances(r, 0)
    want = np.sort(np.argsort(dist + floor, axis=1)[:, :5], axis=1)
    assert np.array_equal(np.sort(cand, axis=1), want)
    np.testing.assert_allclose(near, np.take_along_axis(dist, cand, axis=1), rtol=1e-4, atol=1e-4)


def test_more_channels_than_the_format_holds_is_an_input_error_naming_the_likely_transpose(codec):
    sig = make_signal(2, channels=vqc.DEFAULT_LIMITS.max_channels + 1)
    with pytest.raises(InputError, match=r"exceed the format's limit .*\[C, T\]"):
        codec.compress(sig)


@pytest.mark.parametrize("factor", [2.0, 1.0 + 1 / 3000])
def test_a_forged_sample_count_with_valid_crcs_is_refused_not_stretched(codec, factor):
    sig = make_signal(3000)
    f = vqc.loads(codec.compress(sig)[0])
    f.header = replace(f.header, n_samples=round(sig.n_samples * factor))
    with pytest.raises(vqc.FormatError, match="disagrees with n_model"):
        codec.decompress(vqc.dumps(f))
