"""The one place that creates onnxruntime sessions: CPU provider, bounded threads, full graph optimisation.

`session_threads(n)` sets the thread count of every session created inside it that is not given its own, so a
batch's `--threads` reaches the codecs that decoding loads by a file's model id; neighbour of bundle.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import onnxruntime as ort

_THREADS: ContextVar[int | None] = ContextVar("vqcodec_session_threads", default=None)
"""The intra-op threads of sessions created without their own count; None: every core (onnxruntime's default)."""


@contextmanager
def session_threads(threads: int | None) -> Iterator[None]:
    """Inside this block, sessions created with threads=None use `threads` intra-op threads (None: every core)."""
    token = _THREADS.set(threads)
    try:
        yield
    finally:
        _THREADS.reset(token)


def session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """An inference session for one ONNX file; threads=None takes session_threads' count, else every core."""
    threads = _THREADS.get() if threads is None else threads
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
