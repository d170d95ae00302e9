"""Rewrite an exported encoder/decoder graph into the form onnxruntime's CPU provider runs fastest; same math.

`python -m training.cpu_graph --model vqcodec/models/ecg-v1` rewrites a bundle's two graphs in place.

Two rewrites, each exact up to float rounding (measured: < 2e-6 on outputs of magnitude ~4):
* 1-D convolutions become 2-D ones over a height of 1, so onnxruntime's NCHWc transformer gives them its
  blocked direct-convolution kernels (the 1-D path goes through im2col + GEMM);
* Elu(x) becomes Max(x, Exp(Clip(x, max=0)) - 1): onnxruntime's Elu kernel evaluates exp element by element,
  while its Exp is vectorised, so four cheap passes beat one slow one (the fastest of the exact forms tried).
On this 2-core machine, at the runtime's chunk sizes, a 30-minute 2-lead record goes through the ecg-v1 encoder
in 0.98 s instead of 1.66 s and through the decoder in 1.12 s instead of 1.71 s (best of 4).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from training.priors import rewrite_manifest
from vqcodec.models.bundle import MANIFEST, file_sha256
from vqcodec.models.runtime import session

GRAPHS = ("encoder.onnx", "decoder.onnx")
HEIGHT_AXIS = "cpu_graph_axis2"
ZERO, ONE = "cpu_graph_zero", "cpu_graph_one"
_CONVS = ("Conv", "ConvTranspose")


def _conv_to_2d(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> None:
    """A 1-D (Transpose)Conv node -> the same over [N, C, 1, T]: weights [O, I, K] -> [O, I, 1, K]."""
    w = inits[node.input[1]]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w)[:, :, None, :], w.name))
    for a in node.attribute:
        v = list(a.ints)
        if a.name in ("kernel_shape", "strides", "dilations", "output_padding"):
            v = [1, *v]
        elif a.name == "pads":
            v = [0, v[0], 0, v[1]]
        else:
            continue
        del a.ints[:]
        a.ints.extend(v)


def _elu(node: onnx.NodeProto) -> list[onnx.NodeProto]:
    """Elu(x), alpha 1 -> Max(x, Exp(Clip(x, max=0)) - 1): for x > 0 the Max picks x, for x <= 0 it picks
    exp(x) - 1, which is never below x; the Clip keeps Exp from overflowing on large x."""
    alpha = next((a.f for a in node.attribute if a.name == "alpha"), 1.0)
    if alpha != 1.0:
        raise ValueError(f"Elu with alpha {alpha}: only alpha 1 is rewritten")
    x, y = node.input[0], node.output[0]
    return [helper.make_node("Clip", [x, "", ZERO], [y + "/neg"]), helper.make_node("Exp", [y + "/neg"], [y + "/exp"]),
            helper.make_node("Sub", [y + "/exp", ONE], [y + "/expm1"]), helper.make_node("Max", [x, y + "/expm1"], [y])]


def rewrite(model: onnx.ModelProto) -> onnx.ModelProto:
    """The CPU form of a graph of 1-D convolutions, Elu and Add with one input and one output [N, C, T]."""
    g = model.graph
    if any(n.op_type == "Unsqueeze" and HEIGHT_AXIS in n.input for n in g.node):
        raise ValueError("graph is already rewritten")
    inits = {i.name: i for i in g.initializer}
    src, dst = g.input[0].name, g.output[0].name
    nodes = [helper.make_node("Unsqueeze", [src, HEIGHT_AXIS], [src + "/2d"])]
    for n in g.node:
        n.input[:] = [src + "/2d" if i == src else i for i in n.input]
        n.output[:] = [dst + "/2d" if o == dst else o for o in n.output]
        if n.op_type in _CONVS:
            _conv_to_2d(n, inits)
        if n.op_type == "Elu":
            nodes += _elu(n)
        else:
            nodes.append(n)
    nodes.append(helper.make_node("Squeeze", [dst + "/2d", HEIGHT_AXIS], [dst]))
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend([numpy_helper.from_array(np.array([2], np.int64), HEIGHT_AXIS),
                          numpy_helper.from_array(np.array(0, np.float32), ZERO),
                          numpy_helper.from_array(np.array(1, np.float32), ONE)])
    del g.value_info[:]  # 1-D shapes inferred at export no longer hold
    onnx.checker.check_model(model)
    return model


def rewrite_file(path: Path) -> None:
    """Rewrite one .onnx file in place."""
    onnx.save(rewrite(onnx.load(str(path))), str(path))


def _outputs(bundle: Path, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 1, 4096)).astype(np.float32)
    z = session(bundle / "encoder.onnx").run(None, {"signal": x})[0]
    return {"encoder": z, "decoder": session(bundle / "decoder.onnx").run(None, {"latent": z})[0]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path, help="bundle folder (rewritten)")
    args = ap.parse_args(argv)
    before = _outputs(args.model)
    for name in GRAPHS:
        rewrite_file(args.model / name)
    after = _outputs(args.model)
    manifest = json.loads((args.model / MANIFEST).read_text())
    for name in GRAPHS:
        manifest["files"][name] = file_sha256(args.model / name)
    manifest["cpu_graph"] = {
        "command": "python -m training.cpu_graph " + " ".join(argv if argv is not None else sys.argv[1:]),
        **{f"{k}_max_abs_change": float(np.abs(after[k] - before[k]).max()) for k in before},
    }
    rewrite_manifest(args.model, manifest)
    print(json.dumps(manifest["cpu_graph"], indent=1))


if __name__ == "__main__":
    main()
