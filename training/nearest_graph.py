"""Write vqcodec/ecg/nearest.onnx: the graph the runtime's stage-1 trellis search picks its candidate codes with.

`python -m training.nearest_graph`

Scores s = bias - 2 r @ cbt for residuals r [n, D] against codes cbt [D, K] (bias: each code's squared norm
plus what else the search adds), then the k least per row (TopK). It has no weights, so any bundle uses it. Run
as a graph because numpy's argpartition costs about 1 us a row: for a 30-minute 2-lead record the graph takes
0.1 s where distances plus argpartition took 0.4 s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx
from onnx import TensorProto, helper

OUT = Path(__file__).resolve().parent.parent / "vqcodec" / "ecg" / "nearest.onnx"
OPSET = 17


def build() -> onnx.ModelProto:
    """The graph: inputs r [n, D], cbt [D, K], bias [K], k [1] int64 -> values [n, k], indices [n, k] int64."""
    nodes = [
        helper.make_node("MatMul", ["r", "cbt"], ["dot"]),
        helper.make_node("Mul", ["dot", "minus_two"], ["cross"]),
        helper.make_node("Add", ["cross", "bias"], ["scores"]),
        helper.make_node("TopK", ["scores", "k"], ["values", "indices"], largest=0, sorted=0, axis=1),
    ]
    graph = helper.make_graph(
        nodes, "nearest",
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, ["n", "D"]),
         helper.make_tensor_value_info("cbt", TensorProto.FLOAT, ["D", "K"]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["K"]),
         helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["n", "k"]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, ["n", "k"])],
        initializer=[helper.make_tensor("minus_two", TensorProto.FLOAT, [], [-2.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vqcodec")
    model.ir_version = 8  # what onnxruntime >= 1.17 (pyproject's floor) reads
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.write_bytes(build().SerializeToString())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
