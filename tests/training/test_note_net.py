"""The neural note prior experiment (training/note_net.py): its integer CDFs, and a real round trip
through the exported ONNX graphs, one note at a time, with constriction's rANS (untrained weights: the
machinery, not the bits)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
constriction = pytest.importorskip("constriction")

from training import note_net as nn  # noqa: E402
from vqcodec.midi.coder import NoteSetting  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import midi_neural_prior as bench  # noqa: E402


def test_int_freqs_sum_to_precision_and_keep_every_symbol_codable() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(129, 0.05), size=50)
    p[0] = 0.0
    p[0, 3] = 1.0  # a certain symbol: the others still get frequency 1
    f = nn.int_freqs(p)
    assert (f.sum(axis=1) == 1 << nn.PRECISION).all() and (f >= 1).all()


def test_rounded_logit_weights_are_integers_and_shift_invariant() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (200, 128)).astype(np.float32)
    w = nn.logit_weights(logits)
    assert w.dtype == np.int64 and (w >= 1).all() and (w.max(axis=1) == nn.EXP_TABLE[0]).all()
    assert np.array_equal(w, nn.logit_weights(logits + np.float32(2.0)))  # a whole grid shift: the same CDF
    # a perturbation far below the grid moves almost no row: what the quantisation is for
    moved = (w != nn.logit_weights(logits.astype(np.float64) + rng.uniform(-1e-7, 1e-7, logits.shape))).any(axis=1)
    assert moved.mean() < 0.01


def test_onnx_steps_match_torch_and_round_trip_through_rans(tmp_path: Path) -> None:
    torch = nn._torch()
    torch.manual_seed(0)
    a, b = nn.build(32, 24)
    model = tmp_path / "model.pt"
    torch.save({"a": a.state_dict(), "b": b.state_dict(), "h_a": 32, "h_b": 24, "epoch": 0, "val_bits": {},
                "train_s": 0.0}, model)
    nn.export(model, tmp_path)
    steps = bench.Steps(tmp_path)
    rng = np.random.default_rng(2)
    n = 40
    sym = {"gap": rng.integers(0, 20, n) * (rng.random(n) < 0.7), "pitch": rng.integers(40, 90, n),
           "velocity": rng.integers(0, 14, n), "duration": rng.integers(0, 29, n)}
    s = NoteSetting(16, 10, 1400, 6)
    ck = {"h_a": 32, "h_b": 24}
    _, plan = bench.run_piece(steps, 32, 24, s, n, sym, None)
    enc = constriction.stream.stack.AnsCoder()
    family = constriction.stream.model.Categorical(perfect=False)
    for x, w in reversed(plan):
        enc.encode_reverse(np.array([x], np.int32), family, w[None].astype(np.float64))
    dec = constriction.stream.stack.AnsCoder(enc.get_compressed())
    back, _ = bench.run_piece(steps, ck["h_a"], ck["h_b"], s, n, None, dec)
    assert all(np.array_equal(back[k], sym[k]) for k in sym) and dec.is_empty()
    # the first note's gap logits from ONNX Runtime equal torch's (start state, start tokens)
    h = np.zeros((1, 1, 32), np.float32)
    _, gl = steps("step_a", g_prev=np.array([nn.K_GAP]), p_in=np.array([nn.K_PITCH]), v_prev=np.array([nn.K_VEL]), h=h)
    with torch.no_grad():
        z, _ = a.gru(a.step_in(torch.tensor([[nn.K_GAP]]), torch.tensor([[nn.K_PITCH]]), torch.tensor([[nn.K_VEL]])))
        ref = a.gap_logits(z)[0].numpy()
    np.testing.assert_allclose(gl, ref, atol=1e-5)
