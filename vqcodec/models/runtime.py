"""The one place that creates onnxruntime sessions: CPU provider, bounded threads, full graph optimisation."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """An inference session for one ONNX file; threads=None lets onnxruntime use every core."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
