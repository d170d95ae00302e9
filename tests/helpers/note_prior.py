"""A small random integer note prior (vqcodec.midi.prior) as real ONNX graphs, for NC06 tests without a trained
bundle; tests/midi/test_prior.py and test_coder.py use it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vqcodec.midi import prior as P

HIDDEN = {"gap": (32, 24), "pitch": (16,), "velocity": (12,), "duration": (24, 16)}


def random_graphs(layout: P.Layout, seed: int = 0) -> tuple[dict[str, P.Graph], dict[str, int]]:
    """Random integer graphs of the layout's shapes (every weight within the integer network's ranges)."""
    rng = np.random.default_rng(seed)

    def layer(n_in: int, n_out: int, last: bool = False) -> P.Layer:
        w = rng.integers(-P.W_MAX, P.W_MAX + 1, (n_in, n_out)).astype(np.int8)
        shift = np.full(n_out, 12, np.int32)
        bias = rng.integers(-(1 << 14), 1 << 16, n_out).astype(np.int32)
        return P.Layer(w, bias, None if last else shift)

    outs = {"gap": P.DIRECT + 1, "pitch": P.MIDI_MAX + 1, "velocity": layout.velocity_levels,
            "duration": layout.duration_levels}
    graphs = {}
    for name in P.GRAPHS:
        embed = rng.integers(0, P.ACT_MAX + 1, (layout.rows(name), P.EMBED)).astype(np.uint8)
        trunk = name in ("pitch", "velocity")
        width = len(layout.slots(name)) * P.EMBED + (HIDDEN["gap"][-1] if trunk else 0)
        layers = []
        for h in HIDDEN[name]:
            layers.append(layer(width, h))
            width = h
        layers.append(layer(width, outs[name], last=True))
        rel = layer(width, 2 * P.REL + 1, last=True) if name == "pitch" else None
        bonus = rng.integers(0, 1 << 12, P.MATCH_BUCKETS).astype(np.int32) if name == "pitch" else None
        graphs[name] = P.Graph(name, embed, layers, trunk, rel, bonus)
    return graphs, dict.fromkeys(P.GRAPHS, 10)


def random_prior(layout: P.Layout, folder: Path, seed: int = 0, mix: dict[str, P.Mix] | None = None) -> P.Prior:
    graphs, shifts = random_graphs(layout, seed)
    return P.Prior(P.save_graphs(graphs, folder), shifts, P.EXP_TABLE, layout, mix=mix)


class FloatPrior(P.Prior):
    """A prior whose graphs run in float32 (numpy, as a float engine would run the same integers) with every
    accumulator perturbed by up to `noise` of a unit, then rounded to the nearest integer: what a decoder on another
    machine, with other kernels, summation orders or fused multiply-adds, could compute at worst."""

    def __init__(self, prior: P.Prior, noise: float, seed: int = 0) -> None:
        self.shifts, self.exp_table, self.layout, self.paths = prior.shifts, prior.exp_table, prior.layout, prior.paths
        self.mix = prior.mix
        self.graphs = {g: P.load_graph(prior.paths[g]) for g in P.GRAPHS}
        self.noise, self.rng = noise, np.random.default_rng(seed)

    def _matmul(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        acc = x.astype(np.float32) @ w.astype(np.float32)
        acc += self.rng.uniform(-self.noise, self.noise, acc.shape).astype(np.float32)
        return np.rint(acc).astype(np.int64)

    def run(self, graph: str, rows: np.ndarray, trunk: np.ndarray | None = None, rel_index: np.ndarray | None = None,
            onehot: np.ndarray | None = None, bucket: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return P.reference(self.graphs[graph], rows, trunk, rel_index, onehot, bucket, self._matmul)
