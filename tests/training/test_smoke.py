"""The train -> export -> runtime path on a tiny model: never let it break."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

pytestmark = pytest.mark.slow  # trains models


def test_tiny_model_exports_a_bundle_with_hashes_and_parity(trained_bundle):
    manifest = json.loads((trained_bundle / "manifest.json").read_text())
    # export writes the first four; the fixture then adds the index prior with training/priors.py
    assert set(manifest["files"]) == {"encoder.onnx", "decoder.onnx", "codebooks.npy", "code_bits.npy", "priors.npy"}
    assert manifest["priors"]["indices_counted"] > 0 and len(manifest["compatible_ids"]) == 1
    assert manifest["training"]["command"]
    assert manifest["parity"]["encoder_max_abs"] < 1e-4
    assert manifest["parity"]["decoder_max_abs"] < 1e-4
    assert manifest["context"]["encoder_samples"] > 0 and manifest["context"]["decoder_frames"] > 0


def test_tiny_model_round_trips_a_signal_through_the_runtime(trained_bundle):
    codec = Codec.load(trained_bundle)
    sig = make_signal(3000)
    data, report = codec.compress(sig, quality=3)
    out = codec.decompress(data)
    assert out.samples.shape == sig.samples.shape
    assert report.n_bytes == len(data)
    assert np.isfinite(report.prdn)
    assert [c.name for c in out.channels] == [c.name for c in sig.channels]


def test_a_run_sized_in_minutes_fixes_its_step_count_after_warm_up_and_records_it(tmp_path):
    import copy

    from tests.helpers.signals import synthetic_ecg
    from tests.helpers.tiny import TINY_CONFIG
    from training.train import train

    cfg = copy.deepcopy(TINY_CONFIG)
    cfg["train"].update(warmup=4, steps=10**6, log_every=100, eval_every=10**6)
    cfg["data"]["block_samples"] = 720
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = train(cfg, arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)], tmp_path, minutes=0.002)
    ck = torch.load(best, weights_only=False)
    steps = ck["config"]["train"]["steps"]
    assert cfg["train"]["warmup"] < steps < 10**6 and ck["step"] == steps
    assert f"{steps} steps fill 0.002 minutes" in (tmp_path / "train.log").read_text()
    assert ck["device"].startswith("cpu")


@pytest.mark.parametrize("recon", [0.0, 1.0])
def test_a_distilled_encoder_keeps_the_teachers_decoder_and_exports(trained_bundle, tmp_path, recon):
    """training.distill: a narrower encoder learns the teacher's latent (and, with `recon`, the reconstruction
    through the frozen quantiser); quantiser and decoder stay the teacher's, codebooks included, and the
    checkpoint exports into a bundle the runtime round-trips a signal with."""
    from tests.helpers.signals import synthetic_ecg
    from training.distill import distill
    from training.export import export

    teacher = trained_bundle.parent / "run" / "best.pt"
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = distill(teacher, [2, 4, 8], arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)], tmp_path / "d",
                   steps=3, eval_every=3, recon=recon)
    student, original = torch.load(best, weights_only=False), torch.load(teacher, weights_only=False)
    assert student["config"]["model"]["encoder_channels"] == [2, 4, 8] and student["step"] == 3
    assert student["model"]["encoder.net.0.weight"].shape[0] == 2
    for key, value in original["model"].items():
        if not key.startswith("encoder."):
            assert torch.equal(student["model"][key], value), key
    bundle = tmp_path / "bundle"
    export(best, bundle, default_quality=2, command="test", decoding_of=trained_bundle)
    sig = make_signal(3000)
    codec, teacher_codec = Codec.load(bundle), Codec.load(trained_bundle)
    assert codec.decompress(codec.compress(sig, quality=2)[0]).samples.shape == sig.samples.shape
    # it takes the teacher's decoding path byte for byte, so it decodes the teacher's files, identically
    for name in ("decoder.onnx", "codebooks.npy", "priors.npy"):
        assert (bundle / name).read_bytes() == (trained_bundle / name).read_bytes(), name
    assert teacher_codec.bundle.model_id in codec.bundle.compatible_ids
    blob = teacher_codec.compress(sig, quality=2)[0]
    np.testing.assert_array_equal(codec.decompress(blob).samples, teacher_codec.decompress(blob).samples)


def test_a_distillation_sized_in_minutes_fixes_its_step_count_after_warm_up(trained_bundle, tmp_path):
    from tests.helpers.signals import synthetic_ecg
    from training.distill import distill

    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = distill(trained_bundle.parent / "run" / "best.pt", [2, 4, 8], arrays,
                   [synthetic_ecg(1024, seed=9).astype(np.float32)], tmp_path, steps=10**6, eval_every=10**6,
                   minutes=0.002)
    ck = torch.load(best, weights_only=False)
    steps = ck["config"]["train"]["steps"]
    assert ck["config"]["train"]["warmup"] < steps < 10**6 and ck["step"] == steps
    assert f"{steps} steps fill 0.002 minutes" in (tmp_path / "distill.log").read_text()


def test_export_refuses_a_decoder_that_is_not_the_named_bundles(trained_bundle, tmp_path):
    """export --decoding-of checks the checkpoint's decoder against the bundle's before it borrows its files."""
    from training.export import export

    ck = torch.load(trained_bundle.parent / "run" / "best.pt", weights_only=False)
    key = next(k for k in ck["model"] if k.startswith("decoder.") and k.endswith("weight"))
    ck["model"][key] = ck["model"][key] + 0.5
    torch.save(ck, tmp_path / "changed.pt")
    with pytest.raises(SystemExit, match="decoder differs"):
        export(tmp_path / "changed.pt", tmp_path / "bundle", default_quality=2, command="test",
               decoding_of=trained_bundle)


def test_a_fine_tune_starts_from_the_checkpoints_weights(trained_bundle, tmp_path):
    """train --init: a new schedule from a trained model (at learning rate 0 its network stays the checkpoint's)."""
    from tests.helpers.signals import synthetic_ecg
    from training.train import train

    start = torch.load(trained_bundle.parent / "run" / "best.pt", weights_only=False)
    cfg = start["config"]
    cfg["train"].update(steps=2, lr=0.0, lr_min=0.0, eval_every=2)
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = train(cfg, arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)], tmp_path,
                 init=trained_bundle.parent / "run" / "best.pt")
    ck = torch.load(best, weights_only=False)
    for name, value in start["model"].items():
        if not name.startswith("quantizer."):
            torch.testing.assert_close(ck["model"][name], value, rtol=0, atol=0)
    assert ck["step"] == 2
    assert "initialised from" in (tmp_path / "train.log").read_text()


def test_stage_probs_draw_the_tiles_stage_counts():
    from training.train import stage_sampler

    gen = torch.Generator().manual_seed(0)
    draws = stage_sampler({"train": {"stage_probs": [0.0, 1.0, 0.0]}}, 3, gen)(64)
    assert draws.tolist() == [2] * 64
    uniform = stage_sampler({"train": {}}, 3, gen)(600)
    assert set(uniform.tolist()) == {1, 2, 3}
    with pytest.raises(ValueError, match="3 non-negative"):
        stage_sampler({"train": {"stage_probs": [1.0, 1.0]}}, 3, gen)


def test_an_index_prior_counted_at_a_lambda_has_cheaper_stage_1_codes_and_is_never_replaced(trained_bundle, tmp_path):
    """training.priors --lam counts stage 1's indices as the entropy-constrained search writes them (more
    concentrated than the plain search's); a bundle's prior is never overwritten: its files would not decode."""
    import shutil

    from training.priors import add_priors, count_bigrams

    codec = Codec.load(trained_bundle, threads=1)
    signals = [make_signal(6000, channels=2, seed=s) for s in (11, 12)]

    def entropy_bits(counts: np.ndarray) -> float:
        p = counts[0].sum(axis=0) / counts[0].sum()
        return float(-(p[p > 0] * np.log2(p[p > 0])).sum())

    plain, cheap = count_bigrams(codec, signals), count_bigrams(codec, signals, lam=100.0)
    assert plain[0].sum() == cheap[0].sum() and entropy_bits(cheap) < entropy_bits(plain)
    np.testing.assert_array_equal(cheap[1:], plain[1:])  # later stages: the plain search's
    copy = tmp_path / "b"
    shutil.copytree(trained_bundle, copy)
    before = (copy / "priors.npy").read_bytes()
    with pytest.raises(ValueError, match="already has an index prior"):
        add_priors(copy, cheap, "test")
    assert (copy / "priors.npy").read_bytes() == before
