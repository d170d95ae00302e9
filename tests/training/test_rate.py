"""training.rate (rate in the loss) and training.distill's decoder student, on the tiny model trained here."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers.signals import make_signal, synthetic_ecg  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

pytestmark = pytest.mark.slow  # trains models


def _checkpoint(trained_bundle):  # noqa: ANN001, ANN202
    return torch.load(trained_bundle.parent / "run" / "best.pt", weights_only=False)


def test_a_bundle_read_back_from_its_onnx_graphs_is_the_checkpoints_model(trained_bundle) -> None:
    from training.model import VQVAE
    from training.rate import model_from_bundle

    ck = _checkpoint(trained_bundle)
    original = VQVAE(ck["config"])
    original.load_state_dict(ck["model"])
    original.eval()
    rebuilt = model_from_bundle(ck["config"], trained_bundle).eval()
    x = torch.from_numpy(synthetic_ecg(512, seed=3).astype(np.float32))[None, None]
    with torch.no_grad():
        assert torch.allclose(rebuilt.encoder(x), original.encoder(x), atol=1e-5)
        z = original.encoder(x)
        assert torch.allclose(rebuilt.decoder(z), original.decoder(z), atol=1e-5)
    assert torch.equal(rebuilt.quantizer.codebooks, original.quantizer.codebooks)


def test_the_rate_search_is_nearest_at_lambda_0_cheaper_at_larger_lambda_and_gives_the_encoder_a_gradient(
        trained_bundle) -> None:
    from training.rate import BigramPrior, model_from_bundle, rate_quantize

    ck = _checkpoint(trained_bundle)
    model = model_from_bundle(ck["config"], trained_bundle)
    q = model.quantizer
    counts = np.load(trained_bundle / "priors.npy")
    prior = BigramPrior(counts)
    x = torch.from_numpy(np.stack([synthetic_ecg(512, seed=s) for s in range(4)]).astype(np.float32))[:, None]
    z = model.encoder(x)
    n = torch.full((4,), q.stages)
    _, nearest, _ = q.eval()(z.detach(), n)
    _, at0, _, _, nll0 = rate_quantize(q, prior, z, n, torch.zeros(4), tau=0.1, train=False)
    assert torch.equal(at0, nearest)
    _, _, _, _, nll_big = rate_quantize(q, prior, z, n, torch.full((4,), 50.0), tau=0.1, train=False)
    assert nll_big < nll0  # a large weight picks codes the prior finds cheaper
    _, _, _, soft, _ = rate_quantize(q, prior, z, n, torch.ones(4), tau=0.1, train=False)
    soft.sum().backward()
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)


def test_a_distilled_decoder_keeps_the_teachers_encoder_and_codebooks_and_exports(trained_bundle, tmp_path) -> None:
    from training.distill import distill_decoder
    from training.export import export

    teacher = trained_bundle.parent / "run" / "best.pt"
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = distill_decoder(teacher, [2, 4, 4], arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)],
                           tmp_path / "d", steps=3, eval_every=3, recon=1.0)
    student, original = torch.load(best, weights_only=False), _checkpoint(trained_bundle)
    assert student["config"]["model"]["channels"] == [2, 4, 4] and student["step"] == 3
    assert student["model"]["decoder.net.0.weight"].shape[0] == 4  # the widest (first) stage of the student
    for key, value in original["model"].items():
        if not key.startswith("decoder."):
            assert torch.equal(student["model"][key], value), key
    distill_decoder(teacher, [2, 4, 4], arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)], tmp_path / "d",
                    steps=5, eval_every=5, recon=1.0, resume=True)
    assert torch.load(tmp_path / "d" / "last.pt", weights_only=False)["step"] == 5
    assert "resumed at step 3" in (tmp_path / "d" / "distill.log").read_text()
    export(best, tmp_path / "bundle", default_quality=2, command="test")
    codec = Codec.load(tmp_path / "bundle")
    sig = make_signal(3000)
    out = codec.decompress(codec.compress(sig, quality=2).data)
    assert out.samples.shape == sig.samples.shape


def test_a_student_decoder_may_have_its_own_dilations_and_exports(trained_bundle, tmp_path) -> None:
    from training.distill import distill_decoder
    from training.export import export

    teacher = trained_bundle.parent / "run" / "best.pt"
    original = _checkpoint(trained_bundle)
    taught = original["config"]["model"]["dilations"]
    own = [1] if len(taught) > 1 else [1, 2]
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    best = distill_decoder(teacher, [2, 4, 4], arrays, [synthetic_ecg(1024, seed=9).astype(np.float32)],
                           tmp_path / "d", steps=3, eval_every=3, recon=1.0, dilations=own)
    student = torch.load(best, weights_only=False)
    m = student["config"]["model"]
    assert m["decoder_dilations"] == own and m["dilations"] == taught  # the encoder keeps the teacher's

    def units(state: dict) -> int:  # residual units of the decoder: each has one dilated convolution, block.1
        return sum(k.startswith("decoder.") and k.endswith("block.1.weight") for k in state)

    assert units(student["model"]) * len(taught) == units(original["model"]) * len(own) > 0
    export(best, tmp_path / "bundle", default_quality=2, command="test")
    codec = Codec.load(tmp_path / "bundle")
    sig = make_signal(3000)
    assert codec.decompress(codec.compress(sig, quality=2).data).samples.shape == sig.samples.shape


def test_stage_weights_keep_lambda_off_the_stages_they_zero(trained_bundle) -> None:
    from training.rate import BigramPrior, model_from_bundle, rate_quantize

    ck = _checkpoint(trained_bundle)
    model = model_from_bundle(ck["config"], trained_bundle)
    prior = BigramPrior(np.load(trained_bundle / "priors.npy"))
    x = torch.from_numpy(np.stack([synthetic_ecg(512, seed=s) for s in range(2)]).astype(np.float32))[:, None]
    z, n = model.encoder(x).detach(), torch.full((2,), model.quantizer.stages)
    big = torch.full((2,), 50.0)
    _, only1, _, _, _ = rate_quantize(model.quantizer, prior, z, n, big, 0.1, train=False,
                                      stage_weights=[1.0] + [0.0] * (model.quantizer.stages - 1))
    _, every, _, _, _ = rate_quantize(model.quantizer, prior, z, n, big, 0.1, train=False)
    assert torch.equal(only1[:, 0], every[:, 0])  # stage 1 is priced alike
    # later stages: nearest to what stage 1 left, i.e. the plain search given the same first stage
    q = model.quantizer
    residual = z.permute(0, 2, 1) - q.codebooks[0][only1[:, 0]]
    from training.quantizer import nearest

    assert torch.equal(only1[:, 1].reshape(-1), nearest(residual.reshape(-1, z.shape[1]), q.codebooks[1]))


@pytest.mark.parametrize("frozen", [True, False])
def test_a_student_decoder_trains_end_to_end_from_its_distilled_weights(trained_bundle, tmp_path, frozen) -> None:
    import copy
    import shutil

    from training.distill import distill_decoder
    from training.priors import add_stage_priors, stage_counts
    from training.rate import train_rate

    bundle = tmp_path / "bundle"
    shutil.copytree(trained_bundle, bundle)
    stages = _checkpoint(trained_bundle)["config"]["model"]["stages"]
    signals = [make_signal(3000, seed=s) for s in (21, 22)]
    add_stage_priors(bundle, stage_counts(Codec.load(bundle, threads=1), signals, [0.0] * stages), [0.0] * stages,
                     1, "test")
    arrays = [synthetic_ecg(4096, seed=s).astype(np.float32) for s in range(2)]
    val = [synthetic_ecg(1024, seed=9).astype(np.float32)]
    student = distill_decoder(trained_bundle.parent / "run" / "best.pt", [2, 4, 4], arrays, val, tmp_path / "d",
                              steps=2, eval_every=2, recon=1.0)
    cfg = copy.deepcopy(_checkpoint(trained_bundle)["config"])
    teacher_channels = cfg["model"]["channels"]
    cfg["model"].update(encoder_channels=teacher_channels, channels=[2, 4, 4])
    cfg["train"].update(steps=3, eval_every=3, log_every=1)
    cfg["rate"] = {"lams": [0.0], "eval_lams": [0.0], "tau": 0.5, "kappa": 0.0, "prior_lr": 1e-2, "prior_weight": 1.0,
                   "decoder_init": str(student), "teacher_channels": teacher_channels, "teacher_weight": 1.0,
                   "freeze_codebooks": frozen, "encoder_lr_scale": 0.1}
    train_rate(cfg, bundle, arrays, val, tmp_path / "run", resume=False, device="cpu", minutes=10.0)
    assert "steps fill 10.0 minutes" in (tmp_path / "run" / "train.log").read_text()  # sized, the config's 3 a cap
    before, after = torch.load(student, weights_only=False)["model"], torch.load(tmp_path / "run" / "last.pt",
                                                                                 weights_only=False)["model"]
    assert after["decoder.net.0.weight"].shape == before["decoder.net.0.weight"].shape  # the student's width
    assert not torch.equal(after["decoder.net.0.weight"], before["decoder.net.0.weight"])  # and it learnt
    assert not torch.equal(after["encoder.net.0.weight"], before["encoder.net.0.weight"])  # so did the encoder
    assert torch.equal(after["quantizer.codebooks"], before["quantizer.codebooks"]) == frozen
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 3
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    if frozen:  # a checkpoint from before the encoder had its own optimiser group still resumes
        del last["opt"]["param_groups"][0]
        torch.save(last, tmp_path / "run" / "last.pt")
    cfg["train"]["steps"] = 4
    train_rate(cfg, bundle, arrays, val, tmp_path / "run", resume=True, device="cpu")
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed at step 3" in log and ("optimiser state not resumed" in log) == frozen
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 4
