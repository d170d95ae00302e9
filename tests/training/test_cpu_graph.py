"""training.cpu_graph: the CPU form of an exported graph computes what the exported graph computes."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from training.cpu_graph import rewrite, rewrite_file  # noqa: E402
from vqcodec.models.runtime import session  # noqa: E402

pytestmark = pytest.mark.slow  # training code (torch)


def exported(tmp_path: Path) -> Path:
    """A small net with every op the VQ-VAE exports: dilated, strided and 1x1 convolutions, Elu, Add, ConvTranspose."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv1d(1, 8, 7, padding=3)
            self.b = torch.nn.Conv1d(8, 8, 7, padding=9, dilation=3)
            self.c = torch.nn.Conv1d(8, 8, 1)
            self.down = torch.nn.Conv1d(8, 8, 4, stride=2, padding=1)
            self.up = torch.nn.ConvTranspose1d(8, 1, 4, stride=2, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            h = h + self.c(torch.nn.functional.elu(self.b(torch.nn.functional.elu(h))))
            return self.up(torch.nn.functional.elu(self.down(h)))

    torch.manual_seed(0)
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.zeros(1, 1, 64),), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], opset_version=17,
                          dynamic_axes={"x": {0: "b", 2: "t"}, "y": {0: "b", 2: "t"}})
    return path


def test_the_rewritten_graph_gives_the_same_outputs_without_elu_or_1d_convolutions(tmp_path: Path) -> None:
    path = exported(tmp_path)
    x = np.random.default_rng(1).standard_normal((3, 1, 1000)).astype(np.float32) * 3
    before = session(path).run(None, {"x": x})[0]
    rewrite_file(path)
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert "Elu" not in ops and {"Clip", "Exp", "Max"} <= set(ops)
    weights = {i.name: i for i in model.graph.initializer}
    assert all(len(weights[n.input[1]].dims) == 4 for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose"))
    after = session(path).run(None, {"x": x})[0]
    assert after.shape == before.shape == (3, 1, 1000)
    np.testing.assert_allclose(after, before, atol=1e-5 * np.abs(before).max())


def test_a_graph_is_rewritten_once(tmp_path: Path) -> None:
    path = exported(tmp_path)
    rewrite_file(path)
    with pytest.raises(ValueError, match="already rewritten"):
        rewrite(onnx.load(str(path)))
