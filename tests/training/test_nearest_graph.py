"""The shipped search graph is the one training/nearest_graph.py builds."""

from __future__ import annotations

import pytest


def test_the_shipped_nearest_graph_is_what_the_script_writes():
    pytest.importorskip("onnx")
    from training.nearest_graph import OUT, build
    from vqcodec.ecg.codec import NEAREST_GRAPH

    assert OUT == NEAREST_GRAPH
    assert NEAREST_GRAPH.read_bytes() == build().SerializeToString()
