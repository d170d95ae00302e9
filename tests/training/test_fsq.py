"""FSQ (model.quantizer = "fsq"): outputs lie on the level grid, indices round-trip, gradients reach the encoder."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from tests.helpers.tiny import TINY_CONFIG  # noqa: E402
from training.model import VQVAE  # noqa: E402
from training.quantizer import FSQ  # noqa: E402

pytestmark = pytest.mark.slow  # training code (torch)


def test_fsq_values_are_on_the_grid_and_indices_round_trip():
    torch.manual_seed(0)
    levels = [8, 5, 4]
    q = FSQ(levels, dim=6)
    h = 3 * torch.randn(500, len(levels))
    g = q.quantize(h)
    half = torch.tensor([4.0, 2.0, 2.0])
    digits = g * half + half
    assert torch.allclose(digits, digits.round(), atol=1e-5)
    for i, lv in enumerate(levels):
        assert digits[:, i].min() >= 0 and digits[:, i].max() <= lv - 1
        assert len(digits[:, i].round().unique()) == lv  # every level reachable with wide inputs
    idx = q.codes_to_indices(g)
    assert idx.min() >= 0 and idx.max() < q.codes == 160
    assert torch.allclose(q.indices_to_codes(idx), g, atol=1e-6)


def test_fsq_model_decodes_its_indices_and_passes_gradients_to_the_encoder():
    torch.manual_seed(0)
    cfg = copy.deepcopy(TINY_CONFIG)
    cfg["model"].update(quantizer="fsq", fsq_levels=[4, 3])
    model = VQVAE(cfg)
    x = torch.randn(2, 1, 64)
    y, idx, commit = model(x)
    assert idx.shape == (2, 1, 16) and float(commit) == 0.0
    z_q, _, _ = model.quantizer(model.encoder(x))
    assert torch.allclose(model.quantizer.decode(idx), z_q, atol=1e-6)
    ((y - x) ** 2).mean().backward()
    for name in ("encoder", "quantizer", "decoder"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads), name
