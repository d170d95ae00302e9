"""Rate-distortion choice of a performance's note symbols: where a note may take one of several grid points or
levels within its setting's tolerance, the encoder takes the one that costs the fewest bits plus lambda times
the error, under the same adaptive models the coder then codes with (greedy, note by note, in decoding order).

Encoder-only: the decoder reads whatever symbols were chosen, so the coding is unchanged and decoders that
know it read the files. Every choice stays inside a tolerance stated per stream (ONSET_SLACK, VELOCITY_SLACK,
DURATION_SLACK_GRIDS with the level's own ratio), and the report measures the result against the original.
"""

from __future__ import annotations

import math

import numpy as np

from vqcodec.midi.coder import (
    DIRECT,
    DURATION_FLOOR,
    N_GAP,
    START_PITCH,
    NoteSetting,
    Symbols,
    _bucket,
    _duration_context,
    _Model,
    _next_buckets,
    _velocity_context,
    near_notes,
    quantise,
    quantise_pedals,
)
from vqcodec.midi.performance import MIDI_MAX, Performance

ONSET_SLACK = 0.75
"""An onset may sit on either grid point around it that is within this many grid steps (the nearest is always
within 0.5): 12 ms at a 16 ms grid."""
ONSET_LAMBDA = 0.8
"""Bits one grid step of onset error is worth (0.05 bits/ms at 16 ms; chosen on val)."""
VELOCITY_SLACK = 0.6
"""A velocity may take the level on either side if within this many steps of the played velocity."""
VELOCITY_LAMBDA = 2.0
"""Bits one velocity step of error is worth (chosen on val, where it keeps the mean error under 0.27 steps)."""
DURATION_SLACK_GRIDS = 2.0
"""A duration may take any level within max(this many grid steps, the level's own half-ratio) of the played
one, so an offset stays within mir_eval's offset tolerance (50 ms or 20 %) at the coarse levels."""
DURATION_LAMBDA = 1.0
"""Bits a factor of 2 of duration error is worth."""
CHOICE_CHUNK = 4096
"""Notes whose duration candidates are found at once (a [notes, levels] mask: memory bounded whatever the piece)."""


def onset_bound_ms(s: NoteSetting) -> float:
    """The largest onset error a note may get at setting s."""
    return ONSET_SLACK * s.grid_ms


def velocity_bound(s: NoteSetting) -> float:
    """The largest velocity error a note may get at setting s (the nearest level is within half a step)."""
    return max(0.5, VELOCITY_SLACK) * s.velocity_step


def duration_bound_s(s: NoteSetting, d: np.ndarray) -> np.ndarray:
    """The largest duration error (s) a note of duration d may get beside its nearest level's."""
    return np.maximum(DURATION_SLACK_GRIDS * s.grid_ms / 1000, (math.sqrt(s.duration_milli / 1000) - 1) * d)


def choose(perf: Performance, s: NoteSetting, priors: dict[str, np.ndarray]) -> Symbols:
    """The symbols of `perf` at setting s, each chosen within its tolerance for the fewest bits + lambda x error."""
    if len(perf) == 0:
        return quantise(perf, s)
    order = np.lexsort((perf.pitch, perf.onset))
    steps = _onsets(perf.onset[order] * 1000 / s.grid_ms, priors["onset"])
    final = np.lexsort((perf.pitch[order], steps))
    order, steps = order[final], steps[final]
    pitch = perf.pitch[order].astype(np.int64)
    gap = np.diff(steps, prepend=0)
    velocity = _velocities(perf.velocity[order].astype(np.float64), pitch, gap, s, priors["velocity_near"])
    duration = _durations(np.maximum(perf.offset - perf.onset, DURATION_FLOOR)[order], pitch, steps, s,
                          priors["duration_next"])
    return Symbols(gap, pitch, velocity, duration, *quantise_pedals(perf, s))


def _best(candidates: list[int], model: _Model, ctx: int, error: list[float], lam: float) -> int:
    """The candidate with the fewest bits (under `model` in context ctx) + lam * error."""
    if len(candidates) == 1:
        return candidates[0]
    weights, total = model.weights_of(ctx, [min(c, DIRECT) for c in candidates])
    cost = [-math.log2(w / total) + lam * e for w, e in zip(weights, error)]
    return candidates[min(range(len(cost)), key=cost.__getitem__)]  # the first of equals, as np.argmin


def _onsets(t: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Onset grid steps for true onsets t (in steps, sorted): never before the previous note's step."""
    model = _Model(prior)
    out = np.empty(len(t), np.int64)
    prev = b1 = b2 = 0
    for i, ti in enumerate(t.tolist()):
        nearest = max(math.floor(ti + 0.5), prev)
        cands = [nearest] + [c for c in (math.floor(ti), math.ceil(ti))
                             if c != nearest and c >= prev and abs(c - ti) <= ONSET_SLACK]
        ctx = b1 * N_GAP + b2
        gap = _best([c - prev for c in cands], model, ctx, [abs(c - ti) for c in cands], ONSET_LAMBDA)
        model.update(ctx, min(gap, DIRECT))
        b1, b2 = _bucket(gap), b1
        prev = out[i] = prev + gap
    return out


def _velocities(v: np.ndarray, pitch: np.ndarray, gap: np.ndarray, s: NoteSetting, prior: np.ndarray) -> np.ndarray:
    """Velocity levels, in the coder's velocity context (NC03 and NC04)."""
    model = _Model(prior)
    out: list[int] = []
    first = prev = round(64 / s.velocity_step)
    step = s.velocity_step
    pitches = pitch.tolist()
    for i, (vi, chord, p, j) in enumerate(zip(v.tolist(), (gap == 0).tolist(), pitches, near_notes(pitch).tolist())):
        nearest = math.floor(vi / step + 0.5)
        levels = [c for c in (nearest - 1, nearest, nearest + 1) if 0 <= c < s.velocity_levels]
        error = [abs(min(max(c * step, 1), MIDI_MAX) - vi) / step for c in levels]
        cands = [c for c, e in zip(levels, error) if c == nearest or e <= VELOCITY_SLACK]
        ctx = int(_velocity_context(prev * 2 + int(chord), out[j] if j >= 0 else first, p,
                                    pitches[i - 1] if i else START_PITCH, s))
        prev = _best(cands, model, ctx, [error[levels.index(c)] for c in cands], VELOCITY_LAMBDA)
        out.append(prev)
        model.update(ctx, prev)
    return np.array(out, np.int64)


def _durations(d: np.ndarray, pitch: np.ndarray, steps: np.ndarray, s: NoteSetting, prior: np.ndarray) -> np.ndarray:
    """Duration levels, in the coder's duration context (NC03 and NC04)."""
    model = _Model(prior)
    ratio = s.duration_milli / 1000
    level_s = s.duration_seconds  # the seconds the decoder gives each level
    levels = level_s.tolist()
    nexts = _next_buckets(steps, pitch).tolist()
    prev_ctx = [int(_duration_context(0, level, s)) for level in range(s.duration_levels)]  # the previous level's part
    out = np.zeros(len(d), np.int64)
    prev = 0
    for a in range(0, len(d), CHOICE_CHUNK):  # the levels within each note's bound, for a chunk of notes at once
        chunk = d[a : a + CHOICE_CHUNK]
        within = np.abs(level_s[None] - chunk[:, None]) <= duration_bound_s(s, chunk)[:, None]
        # one run of levels per note (|level - d| falls then rises with the level, rounded or not)
        first, count = np.argmax(within, axis=1).tolist(), within.sum(axis=1).tolist()
        for i, di, lo, n in zip(range(a, a + len(chunk)), chunk.tolist(), first, count):
            level = math.floor(math.log(di / DURATION_FLOOR) / math.log(ratio) + 0.5)
            nearest = min(max(level, 0), s.duration_levels - 1)
            cands = [nearest] + [c for c in range(lo, lo + n) if c != nearest]
            ctx = nexts[i] + prev_ctx[prev]
            prev = out[i] = _best(cands, model, ctx, [abs(math.log2(levels[c] / di)) for c in cands],
                                  DURATION_LAMBDA)
            model.update(ctx, prev)
    return out
