"""onnxruntime sessions (vqcodec/models/runtime.py): the thread count a batch's --threads gives every session made
inside session_threads, including those of the codec a decode loads for a file."""

from __future__ import annotations

from pathlib import Path

import vqcodec
from tests.helpers.signals import make_signal
from vqcodec.container import format as vqc
from vqcodec.ecg.codec import codec_for
from vqcodec.models.runtime import session, session_threads


def _threads(s: object) -> int:
    return s.get_session_options().intra_op_num_threads  # type: ignore[attr-defined]


def test_session_threads_set_the_sessions_made_inside_and_only_those(tiny_bundle: Path) -> None:
    graph = tiny_bundle / "decoder.onnx"
    with session_threads(1):
        assert _threads(session(graph)) == 1
        assert _threads(session(graph, threads=2)) == 2  # a count given outright wins
        with session_threads(2):
            assert _threads(session(graph)) == 2
        assert _threads(session(graph)) == 1
    assert _threads(session(graph)) == 0  # onnxruntime's default: every core


def test_the_codec_a_decode_loads_takes_the_threads_too(tiny_bundle: Path) -> None:
    blob = vqcodec.compress(make_signal(1000, channels=1), tiny_bundle)
    parsed = vqc.loads(blob)
    with session_threads(1):
        codec = codec_for(parsed.header, str(tiny_bundle), "<bytes>")
        assert _threads(codec._decoder) == 1
