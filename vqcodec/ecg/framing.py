"""Framing of long signals for the model: per-block normalisation, hop padding, and chunked
fully-convolutional passes whose overlap makes chunked results equal to one whole-record pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SCALE_FLOOR = 1e-3
"""Smallest normalisation scale (physical units): flat blocks are not blown up into noise."""


def n_blocks(n: int, block: int) -> int:
    """Number of blocks of `block` items covering `n` items (the last one may be short)."""
    return -(-n // block)


def normalize_blocks(x: np.ndarray, block_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block: subtract the mean, divide by the std. x [T] -> (xn [T] float32, stats [B, 2] float32).

    The stats are rounded to float32 first, as stored in the file, so encoder and decoder agree.
    """
    nb = n_blocks(len(x), block_samples)
    stats = np.empty((nb, 2), dtype=np.float32)
    xn = np.empty(len(x), dtype=np.float32)
    for b in range(nb):
        seg = x[b * block_samples : (b + 1) * block_samples]
        stats[b] = (seg.mean(), max(float(seg.std()), SCALE_FLOOR))
        xn[b * block_samples : (b + 1) * block_samples] = (seg - stats[b, 0]) / stats[b, 1]
    return xn, stats


def denormalize_blocks(xn: np.ndarray, stats: np.ndarray, block_samples: int) -> np.ndarray:
    """Inverse of normalize_blocks: xn [T] -> x [T] float64."""
    x = np.empty(len(xn), dtype=np.float64)
    for b in range(len(stats)):
        sl = slice(b * block_samples, (b + 1) * block_samples)
        x[sl] = xn[sl].astype(np.float64) * float(stats[b, 1]) + float(stats[b, 0])
    return x


def pad_to_hop(x: np.ndarray, hop: int) -> np.ndarray:
    """Pad a 1-D array at the end, repeating its last value, to a multiple of hop (at least one hop)."""
    n = max(len(x), 1)
    target = -(-n // hop) * hop
    if len(x) == 0:
        return np.zeros(target, dtype=x.dtype)
    return np.concatenate([x, np.full(target - len(x), x[-1], dtype=x.dtype)])


def chunk_grid(n: int, chunk: int, margin: int) -> list[tuple[int, int, int, int]]:
    """The chunks `chunked` runs over n items: (start, stop, lo, hi), each run on items [lo, hi) (its context
    margins) and kept for [start, stop). One chunk when n <= chunk + 2 * margin."""
    if n <= chunk + 2 * margin:
        return [(0, n, 0, n)]
    return [(s, min(s + chunk, n), max(0, s - margin), min(n, s + chunk + margin)) for s in range(0, n, chunk)]


def chunked(
    fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, chunk: int, margin: int, ratio: float
) -> np.ndarray:
    """Apply a fully convolutional fn over the last axis of x [D, N] in overlapping chunks (chunk_grid).

    fn maps [D, n] -> [D', n * ratio]; each chunk sees `margin` extra items of context on both sides,
    which are cut from its output, so the result equals fn(x) wherever margin covers the receptive field.
    """
    outs = []
    for start, stop, lo, hi in chunk_grid(x.shape[-1], chunk, margin):
        y = fn(x[..., lo:hi])
        a = int(round((start - lo) * ratio))
        b = a + int(round((stop - start) * ratio))
        outs.append(y[..., a:b])
    return np.concatenate(outs, axis=-1)


def reach(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, ratio: float) -> int:
    """How far (in input items) a change travels through a convolutional fn: the context `chunked` needs.

    x [B, D, n] is a typical input, fn maps it to [B, D', n * ratio]; the input at position n // 2 is moved
    and every output item that changes is located back on the input axis (output i stands for inputs
    [i / ratio, (i + 1) / ratio)). Returns the largest distance from the moved position to such an input span.
    """
    p = x.shape[-1] // 2
    moved = x.copy()
    moved[..., p] += 1.0
    changed = np.flatnonzero(np.any(fn(x) != fn(moved), axis=tuple(range(x.ndim - 1))))
    if changed.size == 0:
        return 0
    lo = np.floor(changed / ratio).astype(np.int64)
    hi = np.ceil((changed + 1) / ratio).astype(np.int64) - 1
    return int(max(lo.max() - p, p - hi.min(), 0))
