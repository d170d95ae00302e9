"""The encoder's search: entropy-constrained residual VQ over a bundle's codebooks, stage 1 by a trellis in time.

`vqcodec.ecg.codec` gives it the latents and the bits each index costs under the entropy coder's prior
(`vqcodec.coding.entropy`); it gives back the indices that coder then writes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from vqcodec.coding import entropy

QUANTIZE_CHUNK = 8192
"""Frames whose code distances are computed at once: bounds the [frames, codes] temporaries."""
TRELLIS_PATHS = 8
"""Candidate codes per frame in the stage-1 trellis: those with the least distance plus the least bits the code
costs in any context. Measured on val, one stage: 8 give the bits of 16 within 0.3 %, 4 lose 2 %."""


class ResidualSearch:
    """Entropy-constrained residual VQ (Chou, Lookabaugh & Gray 1989, ECVQ) over codebooks [S, K, D]."""

    def __init__(self, codebooks: np.ndarray, nearest: ort.InferenceSession, block_frames: int) -> None:
        self._cb = codebooks
        self._cb_norm = np.sum(codebooks**2, axis=2)  # [S, K]
        self._cb_t = np.ascontiguousarray(codebooks.transpose(0, 2, 1))  # [S, D, K]
        self._nearest = nearest  # NEAREST_GRAPH's session: distances and top-k in one small graph
        self.block_frames = block_frames

    def quantize(self, z: np.ndarray, stages: int, lam: float, ctx_bits: np.ndarray | None,
                 unigram_bits: Callable[[], np.ndarray]) -> np.ndarray:
        """Entropy-constrained residual VQ of z [D, F] with the first `stages` stages -> indices uint16.

        Each stage picks argmin ||r - c_k||^2 + lam * bits_k (Chou, Lookabaugh & Gray 1989, ECVQ): lam = 0
        is plain nearest-neighbour search; larger lam favours cheap codes. With an index prior, bits_k is the
        cost in the entropy coder's context (the previous stage-1 index, or the index one stage up), stage 1's
        chosen for each lane as a whole (trellis_in_time); without (ctx_bits None), each code's unigram cost
        (unigram_bits(), asked only then). Only the encoder needs lam.
        """
        r = np.ascontiguousarray(z.T, dtype=np.float32)  # [F, D]
        out = np.empty((stages, r.shape[0]), dtype=np.uint16)
        ctx_bits = ctx_bits if lam else None
        for s in range(stages):
            if ctx_bits is not None and s == 0:
                bits = ctx_bits[s] * np.float32(lam)
                cand, near = self.candidates(r, s, bits.min(axis=0), TRELLIS_PATHS)
                out[s] = trellis_in_time(cand, near, bits, self.block_frames)
            else:
                for a in range(0, len(r), QUANTIZE_CHUNK):
                    dist = self.distances(r[a : a + QUANTIZE_CHUNK], s)
                    if ctx_bits is not None:
                        dist += ctx_bits[s][out[s - 1, a : a + QUANTIZE_CHUNK]] * np.float32(lam)
                    else:
                        dist += np.float32(lam) * unigram_bits()[s][None, :]
                    out[s, a : a + QUANTIZE_CHUNK] = np.argmin(dist, axis=1)
            r -= self._cb[s][out[s]]
        return out

    def candidates(self, r: np.ndarray, s: int, floor: np.ndarray, paths: int) -> tuple[np.ndarray, np.ndarray]:
        """For residuals r [n, D], the `paths` codes of stage s with the least ||r - c_k||^2 + floor_k and their
        distances ||r - c_k||^2 - ||r||^2 -> ([n, paths] int64, [n, paths] float32), through NEAREST_GRAPH."""
        paths = min(paths, len(self._cb[s]))
        bias = (self._cb_norm[s] + floor).astype(np.float32)
        cand = np.empty((len(r), paths), dtype=np.int64)
        near = np.empty((len(r), paths), dtype=np.float32)
        for a in range(0, len(r), QUANTIZE_CHUNK):
            values, idx = self._nearest.run(None, {"r": r[a : a + QUANTIZE_CHUNK], "cbt": self._cb_t[s], "bias": bias,
                                                   "k": np.array([paths], dtype=np.int64)})
            cand[a : a + len(idx)], near[a : a + len(idx)] = idx, values - floor[idx]
        return cand, near

    def distances(self, r: np.ndarray, s: int) -> np.ndarray:
        """||r - c_k||^2 - ||r||^2 for residuals r [n, D] and the codes of stage s -> [n, K] float32."""
        return self._cb_norm[s][None, :] - 2.0 * (r @ self._cb[s].T)


def trellis_in_time(cand: np.ndarray, near: np.ndarray, bits: np.ndarray, block_frames: int) -> np.ndarray:
    """argmin over each lane's whole index sequence of sum_t dist_t[k_t] + bits[k_(t-1), k_t] (Viterbi), frame t's
    choices cut to its candidates cand[t] [F, P] at distances near[t]. Lanes are the entropy coder's (LANE frames
    from each storage block's start; a lane's first frame has the start context, row K), all in lockstep."""
    f, paths = cand.shape
    k = bits.shape[1]
    starts = np.concatenate([np.arange(b, min(f, b + block_frames), entropy.LANE_FRAMES)
                             for b in range(0, f, block_frames)]
                            or [np.zeros(0, np.int64)])
    length = np.minimum(np.minimum(f, (starts // block_frames + 1) * block_frames) - starts, entropy.LANE_FRAMES)
    steps = int(length.max(initial=0))
    cost = near[starts] + bits[k][cand[starts]]  # [lanes, paths]: best total ending in each candidate
    back = np.zeros((steps, len(starts), paths), dtype=np.int16)  # the best predecessor of each candidate
    for t in range(1, steps):
        live = np.flatnonzero(t < length)
        rows = starts[live] + t
        total = cost[live][:, :, None] + bits[cand[rows - 1][:, :, None], cand[rows][:, None, :]]
        best = np.argmin(total, axis=1)
        back[t, live] = best
        cost[live] = np.take_along_axis(total, best[:, None, :], axis=1)[:, 0] + near[rows]
    out = np.empty(f, dtype=np.int64)
    j = np.argmin(cost, axis=1) if steps else np.zeros(0, np.int64)
    for t in range(steps - 1, -1, -1):
        live = np.flatnonzero(t < length)
        out[starts[live] + t] = cand[starts[live] + t, j[live]]
        j[live] = back[t, live, j[live]]
    return out
