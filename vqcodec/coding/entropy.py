"""Context-model rANS coding of code indices: fewer bits per index than zstd on the packed bits.

Each index is coded under an adaptive bigram model: the context of a stage-1 index is the previous
stage-1 index of the same channel, the context of a later stage's index is the index one stage up at the
same frame. The probability of index k in context c is proportional to N[c, k] * COUNT_WEIGHT + Q[c, k]:
Q is the bundle's prior (bigram counts over the training split, scaled to PRIOR_MASS per context) and N
counts what this block has coded so far, so the model adapts to the record. Everything is integer, so
every machine builds the same model; rANS is `constriction`'s with exact fixed-point Categorical models.

The first stage depends on the index before it, so decoding is sequential; it runs over LANE_FRAMES-frame lanes
of every channel at once (a lane's first index has the start context), all lanes in one numpy step, and
N is updated after each step from all lanes. One stream per storage block, so blocks stay independent.
Layout: docs/FORMAT.md, section IDXC.
"""

from __future__ import annotations

from functools import partial

import numpy as np

LANE_FRAMES = 256
"""Frames per lane: lanes of a block are coded in lockstep."""
PRIOR_MASS = 128 << 16
"""Weight of the prior in each context, in units of one coded index (COUNT_WEIGHT): 128 indices' worth."""
COUNT_WEIGHT = 1 << 16
CODING_ONE_PRIOR = "bigram-rans-1"
"""The name this scheme writes into the IDXC section when Q is the bundle's one prior (priors.npy)."""
CODING_PER_STAGES = "bigram-rans-2"
"""The same scheme with Q the bundle's prior for the file's stage count (stage_priors.npz): each stage count
gets indices counted as its own levels' search writes them."""


def prior_weights(counts: np.ndarray) -> np.ndarray:
    """Bigram counts [S, K + 1, K] (row K: the start context) -> integer prior weights Q, same shape.

    Each row is scaled to PRIOR_MASS with integer arithmetic only (at least 1 per index).
    """
    counts = counts.astype(np.int64) + 1  # add-one: every index stays codable
    rows = counts.sum(axis=2, keepdims=True)
    return np.maximum(1, (counts * PRIOR_MASS * 2 + rows) // (2 * rows))


def count_bigrams(codes: np.ndarray, k: int) -> np.ndarray:
    """(context, index) counts [S, K + 1, K] of one record's indices [C, S, F], the contexts this coder
    uses: for stage 1 the previous index of the channel (row K before the first), else the index one stage
    up. What training/priors.py sums over the train split."""
    codes = codes.astype(np.int64)
    counts = np.zeros((codes.shape[1], k + 1, k), dtype=np.int64)
    for stage in range(codes.shape[1]):
        if stage == 0:
            ctx = np.full(codes[:, 0].shape, k)
            ctx[:, 1:] = codes[:, 0, :-1]
        else:
            ctx = codes[:, stage - 1]
        np.add.at(counts[stage], (ctx.ravel(), codes[:, stage].ravel()), 1)
    return counts


def _run(q: np.ndarray, codes: np.ndarray, step) -> list[np.ndarray]:  # noqa: ANN001 - step: see encode/decode
    """The lockstep loop shared by encoder and decoder over one block's codes [C, S, F] (filled in place).

    Returns each stage's final counts."""
    c, s, f = codes.shape
    k = q.shape[2]
    per = -(-f // LANE_FRAMES)  # lanes per channel
    frame = (np.arange(per) * LANE_FRAMES)[None, :].repeat(c, 0).ravel()  # lane start frame
    chan = np.repeat(np.arange(c), per)
    finals = []
    for stage in range(s):
        counts = np.zeros((k + 1, k), dtype=np.int64)
        prior = q[stage]
        for t in range(LANE_FRAMES):
            pos = frame + t
            live = pos < f
            if not live.any():
                break
            lc, lp = chan[live], pos[live]
            if stage == 0:
                ctx = np.where(lp % LANE_FRAMES == 0, k, codes[lc, 0, np.maximum(lp - 1, 0)])
            else:
                ctx = codes[lc, stage - 1, lp].astype(np.int64)
            sym = step(partial(_weights, counts, prior, ctx), ctx, lc, stage, lp)
            np.add.at(counts, (ctx, sym), 1)
        finals.append(counts)
    return finals


def _weights(counts: np.ndarray, prior: np.ndarray, ctx: np.ndarray) -> np.ndarray:
    """Unnormalised probabilities [n, K] of the next index in each context: integers, exact in float64."""
    return (counts[ctx] * COUNT_WEIGHT + prior[ctx]).astype(np.float64)


def encode(codes: np.ndarray, q: np.ndarray) -> bytes:
    """One block's indices [C, S, F] uint16 and the prior Q [S_model, K + 1, K] -> rANS words (bytes)."""
    import constriction

    family = constriction.stream.model.Categorical(perfect=False)
    steps: list[tuple[int, np.ndarray, np.ndarray]] = []

    def step(_weights, ctx: np.ndarray, lc: np.ndarray, stage: int, lp: np.ndarray) -> np.ndarray:  # noqa: ANN001
        sym = codes[lc, stage, lp].astype(np.int64)
        steps.append((stage, ctx, sym))
        return sym

    counts = _run(q, codes, step)
    coder = constriction.stream.stack.AnsCoder()
    for stage, ctx, sym in reversed(steps):  # a stack: encode last what is decoded first, undoing the counts
        np.subtract.at(counts[stage], (ctx, sym), 1)
        coder.encode_reverse(sym.astype(np.int32), family, _weights(counts[stage], q[stage], ctx))
    return coder.get_compressed().astype("<u4").tobytes()


def decode(data: bytes, q: np.ndarray, shape: tuple[int, int, int]) -> tuple[np.ndarray, bool]:
    """rANS words -> (indices [C, S, F] uint16, whether the stream ended exactly where it should)."""
    import constriction

    if len(data) % 4:
        return np.zeros(shape, np.uint16), False
    family = constriction.stream.model.Categorical(perfect=False)
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, "<u4").astype(np.uint32))
    except ValueError:  # constriction refuses a stream that cannot have been written by an encoder
        return np.zeros(shape, np.uint16), False
    codes = np.zeros(shape, dtype=np.uint16)

    def step(weights, _ctx: np.ndarray, lc: np.ndarray, stage: int, lp: np.ndarray) -> np.ndarray:  # noqa: ANN001
        sym = np.asarray(coder.decode(family, weights()), dtype=np.int64)
        codes[lc, stage, lp] = sym
        return sym

    _run(q, codes, step)
    return codes, coder.is_empty()
