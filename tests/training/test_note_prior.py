"""Training the integer note prior (training/note_prior.py): a few steps on a synthetic performance's real inputs,
then `quantise` to integer graphs whose logits follow the float network's and whose ONNX files onnxruntime runs to
the numpy reference exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers.notes import random_performance  # noqa: E402
from training import note_prior as T  # noqa: E402
from vqcodec.midi import coder as nc  # noqa: E402
from vqcodec.midi import prior as P  # noqa: E402

SETTING = nc.NoteSetting(16, 10, 1400, 6)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    layout = P.Layout(SETTING.velocity_levels, SETTING.duration_levels)
    sym = nc.quantise(random_performance(300, seed=4, long_gaps=False), SETTING)
    return T.piece_features(sym, layout, lanes=2)


def test_a_few_steps_lower_the_loss_and_the_integer_network_follows_the_float_one(data: dict, tmp_path) -> None:
    layout = P.Layout(SETTING.velocity_levels, SETTING.duration_levels)
    torch.manual_seed(0)
    net = T.build(layout)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    before = sum(T.float_bits(net, data).values())
    x = T._batch(data, np.arange(len(data["gap"])))
    for _ in range(20):
        out = net(x)
        loss = sum(torch.nn.functional.cross_entropy(out[k], x[k]) for k in T.STREAMS)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = T.float_bits(net, data)
    assert sum(after.values()) < before - 1.0
    graphs, shifts = T.quantise(net, layout)
    integer = T.integer_bits(graphs, shifts, data)
    for k in T.STREAMS:  # rounding the weights costs little: the activations were rounded in training already
        assert abs(integer[k] - after[k]) < 0.15, (k, integer[k], after[k])
    net.eval()
    with torch.no_grad():
        float_gap = net(x)["gap"].numpy()
    int_gap = P.reference(graphs["gap"], data["rows_gap"])[1] / (P.LOGIT_ONE * 2.0 ** shifts["gap"])
    centred = lambda a: a - a.max(axis=1, keepdims=True)  # noqa: E731 - logits up to a constant per row
    assert np.abs(centred(float_gap) - centred(int_gap)).max() < 0.25  # nat, where they differ most
    prior = P.Prior(P.save_graphs(graphs, tmp_path), shifts, P.EXP_TABLE, layout)
    hidden, logits = prior.run("gap", data["rows_gap"])
    assert np.array_equal(logits, P.reference(graphs["gap"], data["rows_gap"])[1])
