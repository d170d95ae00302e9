"""The neural note prior of NOTE coding NC06: the network's integer inputs, its integer graphs (ONNX, and the same
arithmetic in numpy) and the integer CDFs they give; vqcodec.midi.coder codes with them.

Every number from a note's inputs to the weights rANS codes with is an integer computed by exact integer
operations, so every machine, thread count and batch size gives the same CDFs. Each input token reads a row of a
uint8 table; a layer is an int8 x uint8 MatMulInteger summed in int32, an int32 bias, a division by a power of two
per channel and a clip to 0..ACT_MAX (ReLU and requantisation in one). Activations stay within 0..ACT_MAX = 127 and
weights within -127..127, so even a kernel that adds two products in 16 bits (x86's VPMADDUBSW) never saturates,
and every sum stays below 2^24. The last layer's int32 accumulators are the logits; `weights` shifts them to
1/LOGIT_ONE nat and reads an integer exp table: that is the integer softmax. `mixed` then mixes them, in integers,
with the counts of the lane's recent symbols.

The piece is split into lanes (contiguous runs of notes; `lane_bounds`), each started from an empty history, so a
decoder runs the network once per step for every lane at once. Pass A codes each note's onset gap, pitch and
velocity (three graphs per step: the pitch graph sees the gap, the velocity graph the gap and the pitch); pass B,
once every gap, pitch and velocity is known, each note's duration (one graph per step, seeing the previous
durations of its lane and the notes around it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from vqcodec.midi.performance import MIDI_MAX

DIRECT = 128
"""The onset gap alphabet's escape symbol (vqcodec.midi.coder.DIRECT; repeated here so the two modules stay
independent: checked equal by a test)."""
ACT_MAX = 127
"""Activations are integers 0..ACT_MAX (uint8 operands of MatMulInteger, never above 127)."""
W_MAX = 127
"""Weights are int8 within -W_MAX..W_MAX."""
LOGIT_ONE = 16
"""Integer logits are in 1/LOGIT_ONE nat."""
EXP_BITS = 20
EXP_NATS = 20
EXP_TABLE = np.maximum(1, np.floor((1 << EXP_BITS) * np.exp(-np.arange(LOGIT_ONE * EXP_NATS + 1) / LOGIT_ONE)
                                   + 0.5)).astype(np.int64)
"""Weight of a symbol whose logit is k/LOGIT_ONE nat below its row's largest (further below: the last, 1). Stored in
the bundle: a reader uses the bundle's table, never recomputes it with its own exp."""
WINDOW_A = 16
"""Pass A sees the previous WINDOW_A notes of its lane."""
PAST_B, NEXT_B = 8, 8
"""Pass B sees the previous PAST_B and the next NEXT_B notes (their gaps, pitches and velocities: all known then;
durations only of its own lane's notes)."""
REL = 48
"""Pitches relative to a reference pitch are clipped to -REL..REL (2 REL + 1 tokens), then one 'none' token."""
N_REL = 2 * REL + 2
MATCH_BUCKETS = 6
"""0: no match prediction; 1..5: NC03's match-length buckets."""
N_NEXT = 16
"""Tokens of a bucket of the steps to the next onset (vqcodec.midi.coder.NEXT_EDGES' 15 buckets; one spare)."""
NEAR_NOTES, NEAR_SEMITONES = 8, 5
"""As NC03's near velocity: the latest of the previous NEAR_NOTES notes of the lane within NEAR_SEMITONES."""
START_PITCH = 60
"""The reference pitch of a lane's first note."""
GRAPHS = ("gap", "pitch", "velocity", "duration")
ROW_DTYPE = np.int16
"""How a whole piece's table rows are held (every graph has fewer than 2^15 rows): a long piece's inputs stay a few
bytes per slot."""
RUN_ROWS = 1 << 15
"""An encoder runs a graph on at most this many notes at once (memory stays bounded whatever the piece)."""
"""The four graphs of a bundle's prior, in the order a step runs them."""


def rel(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Token of pitch a relative to ref: 0..2 REL (clipped)."""
    return np.minimum(np.maximum(np.asarray(a, np.int64) - ref, -REL), REL) + REL


@dataclass(frozen=True)
class Layout:
    """Token vocabularies of every input slot of the four graphs, for one note setting (its level counts)."""

    velocity_levels: int
    duration_levels: int

    def slots(self, graph: str) -> list[tuple[str, int]]:
        """(slot name, vocabulary) of a graph's table inputs, in column order."""
        g, v, d = DIRECT + 2, self.velocity_levels + 1, self.duration_levels + 1  # each with a 'none' token
        if graph == "gap":
            out = [(f"gap{k}", g) for k in range(1, WINDOW_A + 1)] + [(f"vel{k}", v) for k in range(1, WINDOW_A + 1)]
            out += [(f"rel{k}", N_REL) for k in range(2, WINDOW_A + 1)]
            return out + [("pitch1", MIDI_MAX + 2), ("m_rel", N_REL), ("m_bucket", MATCH_BUCKETS), ("m_gap", g),
                          ("m_vel", v)]
        if graph == "pitch":
            return [("gap", DIRECT + 1), ("m_bucket", MATCH_BUCKETS), ("m_gap", g)]
        if graph == "velocity":
            return [("gap", DIRECT + 1), ("pitch", MIDI_MAX + 1), ("rel", N_REL), ("near", v), ("m_vel", 2 * v)]
        out = [(f"p{k}_{f}", n) for k in range(1, PAST_B + 1) for f, n in (("gap", g), ("rel", N_REL), ("vel", v),
                                                                             ("dur", d))]
        out += [(f"n{k}_{f}", n) for k in range(1, NEXT_B + 1) for f, n in (("gap", g), ("rel", N_REL), ("vel", v))]
        return out + [("gap", DIRECT + 1), ("pitch", MIDI_MAX + 1), ("vel", v), ("next_on", N_NEXT),
                      ("next_same", N_NEXT), ("m_dur", 2 * d)]

    def offsets(self, graph: str) -> np.ndarray:
        sizes = [n for _, n in self.slots(graph)]
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    def rows(self, graph: str) -> int:
        return sum(n for _, n in self.slots(graph))


def pitch_extras(ref: np.ndarray, match_pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pitch graph's 'rel_index' (each candidate pitch's relative token, REL window, else the padded zero) and
    'onehot' (the match prediction) inputs."""
    r = np.arange(MIDI_MAX + 1)[None] - np.asarray(ref)[:, None]
    rel_index = np.where(np.abs(r) <= REL, r + REL, N_REL - 1)
    onehot = (np.arange(MIDI_MAX + 1)[None] == np.asarray(match_pitch)[:, None]).astype(np.int32)
    return rel_index, onehot


def lane_bounds(n: int, lanes: int) -> np.ndarray:
    """Start of each lane and the end [lanes + 1]: lane l holds notes l n // lanes .. (l + 1) n // lanes."""
    return np.arange(lanes + 1, dtype=np.int64) * n // lanes


# ------------------------------------------------------------------------------------------- inputs, lane by lane


class PassA:
    """What pass A knows of every lane while it goes step by step: the notes coded so far and each lane's match
    model. Step t codes note t of every lane still that long; `gap_inputs`, `pitch_inputs` and `velocity_inputs`
    give that step's rows, `push` stores the decoded notes."""

    def __init__(self, lengths: np.ndarray, layout: Layout, matcher: type) -> None:
        self.layout = layout
        self.lengths = np.asarray(lengths, np.int64)
        lanes, steps = len(lengths), int(self.lengths.max(initial=0))
        self.gap = np.zeros((lanes, steps + WINDOW_A), np.int64)  # column WINDOW_A + t holds note t
        self.pitch = np.zeros_like(self.gap)
        self.velocity = np.zeros_like(self.gap)
        none = layout.velocity_levels
        self.gap[:, :WINDOW_A], self.pitch[:, :WINDOW_A], self.velocity[:, :WINDOW_A] = DIRECT + 1, -1, none
        self.matchers = [matcher() for _ in range(lanes)]
        self.match_at = np.full((lanes, steps), -1, np.int64)  # lane index of the note that followed the match
        self.match_pitch = np.full((lanes, steps), -1, np.int64)
        self.match_bucket = np.zeros((lanes, steps), np.int64)
        self.off = {g: layout.offsets(g) for g in ("gap", "pitch", "velocity")}

    def _recent(self, a: np.ndarray, lanes: np.ndarray, c: int, k: int) -> np.ndarray:
        """The k notes before column c of the lanes, latest first [len(lanes), k]."""
        w = a[:, c - k : c][:, ::-1]
        return w if len(lanes) == len(a) else w[lanes]

    def gap_inputs(self, t: int, lanes: np.ndarray) -> np.ndarray:
        """Table rows of the gap graph [len(lanes), slots]; first the lanes' match predictions for note t."""
        found = np.array([self.matchers[lane].bucket_at() for lane in lanes.tolist()], np.int64).reshape(-1, 3)
        self.match_pitch[lanes, t], self.match_bucket[lanes, t], self.match_at[lanes, t] = found.T
        c = WINDOW_A + t
        g = self._recent(self.gap, lanes, c, WINDOW_A)
        v = self._recent(self.velocity, lanes, c, WINDOW_A)
        p = self._recent(self.pitch, lanes, c, WINDOW_A)
        p1 = p[:, 0]
        ref = np.where(p1 >= 0, p1, START_PITCH)
        r = np.where(p[:, 1:] >= 0, rel(p[:, 1:], ref[:, None]), N_REL - 1)
        mp, mb, ma = self.match_pitch[lanes, t], self.match_bucket[lanes, t], self.match_at[lanes, t]
        hit = ma >= 0
        mg = np.where(hit, self.gap[lanes, WINDOW_A + ma], DIRECT + 1)
        mv = np.where(hit, self.velocity[lanes, WINDOW_A + ma], self.layout.velocity_levels)
        cols = [g, v, r, np.stack([np.where(p1 >= 0, p1, MIDI_MAX + 1), np.where(mp >= 0, rel(mp, ref), N_REL - 1),
                                   mb, mg, mv], axis=1)]
        return np.concatenate(cols, axis=1) + self.off["gap"]

    def pitch_inputs(self, t: int, lanes: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                 np.ndarray]:
        """(table rows, reference pitch, match prediction, match bucket) of note t given its gap; `pitch_extras`
        turns the middle two into the graph's relative index and one-hot inputs."""
        p1 = self.pitch[lanes, WINDOW_A + t - 1]
        ma = self.match_at[lanes, t]
        mg = np.where(ma >= 0, self.gap[lanes, WINDOW_A + ma], DIRECT + 1)
        mb = self.match_bucket[lanes, t]
        rows = np.stack([np.minimum(gap, DIRECT), mb, mg], axis=1) + self.off["pitch"]
        return rows, np.where(p1 >= 0, p1, START_PITCH), self.match_pitch[lanes, t], mb

    def velocity_inputs(self, t: int, lanes: np.ndarray, gap: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        """Table rows of the velocity graph for note t, given its gap and pitch."""
        c = WINDOW_A + t
        p1 = self.pitch[lanes, c - 1]
        ref = np.where(p1 >= 0, p1, START_PITCH)
        none = self.layout.velocity_levels
        prev_p = self._recent(self.pitch, lanes, c, NEAR_NOTES)
        prev_v = self._recent(self.velocity, lanes, c, NEAR_NOTES)
        near_ok = (prev_p >= 0) & (np.abs(prev_p - pitch[:, None]) <= NEAR_SEMITONES)
        first = np.argmax(near_ok, axis=1)
        near = np.where(near_ok.any(axis=1), prev_v[np.arange(len(lanes)), first], none)
        ma = self.match_at[lanes, t]
        hit = (self.match_pitch[lanes, t] == pitch) & (ma >= 0)
        mv = np.where(ma >= 0, self.velocity[lanes, WINDOW_A + ma], none) + hit * (none + 1)
        rows = np.stack([np.minimum(gap, DIRECT), pitch, rel(pitch, ref), near, mv], axis=1)
        return rows + self.off["velocity"]

    def push(self, t: int, lanes: np.ndarray, gap: np.ndarray, pitch: np.ndarray, velocity: np.ndarray) -> None:
        c = WINDOW_A + t
        self.gap[lanes, c], self.pitch[lanes, c], self.velocity[lanes, c] = np.minimum(gap, DIRECT), pitch, velocity
        for lane, p in zip(lanes.tolist(), pitch.tolist()):
            self.matchers[lane].add(p)

    def match_of(self, bounds: np.ndarray) -> np.ndarray:
        """Per note of the piece, the piece index of the note its match model's prediction came from (-1: none)."""
        out = []
        for lane in range(len(self.lengths)):
            at = self.match_at[lane, : self.lengths[lane]]
            out.append(np.where(at >= 0, at + bounds[lane], -1))
        return np.concatenate(out) if out else np.zeros(0, np.int64)


@dataclass
class InputsA:
    """Pass A's inputs for every note of a piece (piece order), as an encoder or a training set has them."""

    gap: np.ndarray  # gap graph rows [n, slots]
    pitch: np.ndarray  # pitch graph rows [n, slots]
    ref: np.ndarray  # [n] reference pitch (the lane's previous pitch)
    match_pitch: np.ndarray  # [n] the match prediction (-1: none)
    bucket: np.ndarray  # [n] its bucket
    velocity: np.ndarray  # velocity graph rows [n, slots]
    match_at: np.ndarray  # [n] piece index of the note the match came from (-1: none)


class LaneMatches(Protocol):
    """The lanes' match model as inputs_a needs it (vqcodec.midi.coder._LaneMatcher, the class itself)."""

    def buckets(self, pitch: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every note's (predicted pitch, length bucket, piece index of the note predicted) at once."""
        ...


def inputs_a(gap: np.ndarray, pitch: np.ndarray, velocity: np.ndarray, bounds: np.ndarray, layout: Layout,
             matcher: LaneMatches) -> InputsA:
    """Every note's pass A inputs, the notes known (teacher forcing): the rows a decoder builds step by step (PassA),
    built for RUN_ROWS notes at a time. matcher: the lanes' match model, whose `buckets(pitch, bounds)` gives every
    note's prediction at once."""
    n = len(gap)
    gap, pitch, velocity = (np.asarray(a, np.int64) for a in (gap, pitch, velocity))
    mp, mb, ma = matcher.buckets(pitch, bounds)
    start = np.repeat(bounds[:-1], np.diff(bounds))
    none_v = layout.velocity_levels
    direct = np.minimum(gap, DIRECT)
    off = {g: layout.offsets(g) for g in ("gap", "pitch", "velocity")}
    parts: dict[str, list[np.ndarray]] = {"gap": [], "pitch": [], "velocity": []}
    for c in range(0, n, RUN_ROWS):
        i = np.arange(c, min(c + RUN_ROWS, n))
        back = i[:, None] - np.arange(1, WINDOW_A + 1)[None]  # the previous notes, latest first
        known = back >= start[i][:, None]  # of the note's lane
        back = np.maximum(back, 0)
        g = np.where(known, direct[back], DIRECT + 1)
        v = np.where(known, velocity[back], none_v)
        p = np.where(known, pitch[back], -1)
        p1 = p[:, 0]
        ref = np.where(p1 >= 0, p1, START_PITCH)
        r = np.where(p[:, 1:] >= 0, rel(p[:, 1:], ref[:, None]), N_REL - 1)
        hit, at = ma[i] >= 0, np.maximum(ma[i], 0)
        mg = np.where(hit, direct[at], DIRECT + 1)
        mv = np.where(hit, velocity[at], none_v)
        parts["gap"].append((np.concatenate([g, v, r, np.stack([np.where(p1 >= 0, p1, MIDI_MAX + 1),
                                                                 np.where(mp[i] >= 0, rel(mp[i], ref), N_REL - 1),
                                                                 mb[i], mg, mv], axis=1)], axis=1)
                             + off["gap"]).astype(ROW_DTYPE))
        parts["pitch"].append((np.stack([direct[i], mb[i], mg], axis=1) + off["pitch"]).astype(ROW_DTYPE))
        near_ok = (p[:, :NEAR_NOTES] >= 0) & (np.abs(p[:, :NEAR_NOTES] - pitch[i][:, None]) <= NEAR_SEMITONES)
        near = np.where(near_ok.any(axis=1), v[np.arange(len(i)), np.argmax(near_ok, axis=1)], none_v)
        mv_hit = mv + ((mp[i] == pitch[i]) & hit) * (none_v + 1)
        parts["velocity"].append((np.stack([direct[i], pitch[i], rel(pitch[i], ref), near, mv_hit], axis=1)
                                  + off["velocity"]).astype(ROW_DTYPE))
    if not n:
        z = np.zeros(0, np.int64)
        empty = {k: np.zeros((0, len(layout.slots(k))), np.int64) for k in ("gap", "pitch", "velocity")}
        return InputsA(empty["gap"], empty["pitch"], z, z, z, empty["velocity"], z)
    prev_pitch = np.where(np.arange(n) > start, pitch[np.maximum(np.arange(n) - 1, 0)], -1)
    cat = {k: np.concatenate(v) for k, v in parts.items()}  # rows as ROW_DTYPE
    return InputsA(cat["gap"], cat["pitch"], np.where(prev_pitch >= 0, prev_pitch, START_PITCH), mp, mb,
                   cat["velocity"], ma)


def inputs_b(gap: np.ndarray, pitch: np.ndarray, velocity: np.ndarray, duration: np.ndarray, next_on: np.ndarray,
             next_same: np.ndarray, match_at: np.ndarray, bounds: np.ndarray, layout: Layout) -> np.ndarray:
    """Every note's duration graph rows [n, slots], the durations known (teacher forcing)."""
    state = PassB(gap, pitch, velocity, next_on, next_same, match_at, bounds, layout)
    notes = np.arange(len(gap))
    state.push(notes, duration)
    return np.concatenate([state.inputs(notes[c : c + RUN_ROWS]).astype(ROW_DTYPE) for c in range(0, len(gap),
                                                                                                   RUN_ROWS)]
                          or [np.zeros((0, len(layout.slots("duration"))), ROW_DTYPE)])


class PassB:
    """Pass B's inputs: every note's gap, pitch and velocity (known, so their columns are built once for the whole
    piece), and the durations of each lane so far (filled in per step)."""

    def __init__(self, gap: np.ndarray, pitch: np.ndarray, velocity: np.ndarray, next_on: np.ndarray,
                 next_same: np.ndarray, match_at: np.ndarray, bounds: np.ndarray, layout: Layout) -> None:
        n = len(gap)
        pad = max(PAST_B, NEXT_B)
        none_v, self.none_d = layout.velocity_levels, layout.duration_levels
        g = np.r_[np.full(pad, DIRECT + 1), np.minimum(gap, DIRECT), np.full(pad, DIRECT + 1)]
        p = np.r_[np.full(pad, -1), pitch, np.full(pad, -1)]
        v = np.r_[np.full(pad, none_v), velocity, np.full(pad, none_v)]
        c = np.arange(n) + pad
        offsets = layout.offsets("duration")
        self.rows = np.empty((n, len(offsets)), ROW_DTYPE)  # a column at a time: n int16 rows, whatever n
        col = 0

        def put(a: np.ndarray | int) -> None:
            nonlocal col
            self.rows[:, col] = a + offsets[col]
            col += 1

        for k in [*range(-1, -PAST_B - 1, -1), *range(1, NEXT_B + 1)]:
            j = c + k
            put(g[j])
            put(np.where(p[j] >= 0, rel(p[j], pitch), N_REL - 1))
            put(v[j])
            if k < 0:
                put(0)  # the duration, filled in by `inputs`
        hit = (match_at >= 0) & (pitch == pitch[np.maximum(match_at, 0)])
        for a in (np.minimum(gap, DIRECT), pitch, velocity, next_on, next_same, hit * (self.none_d + 1)):
            put(a)
        self.dur_cols = 3 + 4 * np.arange(PAST_B)  # the past notes' duration columns
        self.own = (np.arange(n)[:, None] - np.arange(1, PAST_B + 1)[None]
                    >= np.repeat(bounds[:-1], np.diff(bounds))[:, None])  # past note k is of the note's lane
        self.duration = np.full(n + pad, self.none_d, np.int64)  # column pad + i: note i, once decoded
        self.pad, self.match_at = pad, match_at

    def inputs(self, notes: np.ndarray) -> np.ndarray:
        """Table rows of the duration graph for these notes (their lanes' earlier durations known)."""
        rows = self.rows[notes].astype(np.int64)
        past = self.duration[notes[:, None] + self.pad - np.arange(1, PAST_B + 1)[None]]
        rows[:, self.dur_cols] += np.where(self.own[notes], past, self.none_d)
        ma = self.match_at[notes]
        rows[:, -1] += np.where(ma >= 0, self.duration[np.maximum(ma, 0) + self.pad], self.none_d)
        return rows

    def push(self, notes: np.ndarray, duration: np.ndarray) -> None:
        self.duration[notes + self.pad] = duration


# ------------------------------------------------------------------------------------------- the integer network


@dataclass
class Layer:
    """One integer layer: out = clip((x @ w + bias) >> shift, 0, ACT_MAX), or the raw int32 logits x @ w + bias
    when it is a graph's last layer (shift None)."""

    w: np.ndarray  # int8 [in, out]
    bias: np.ndarray  # int32 [out]
    shift: np.ndarray | None  # int32 [out]: the divisor of each channel is 1 << shift


@dataclass
class Graph:
    """One of the four graphs: each input slot's token reads a row of `embed` (uint8 [rows, EMBED]); the rows,
    side by side (and the trunk's activations, for the pitch and velocity graphs), go through `layers`. The pitch
    graph adds a second output layer for relative pitches and the match bonus per bucket."""

    name: str
    embed: np.ndarray
    layers: list[Layer]
    trunk: bool = False
    rel: Layer | None = None  # pitch: logits of relative pitches (REL window), gathered per candidate
    bonus: np.ndarray | None = None  # pitch: int32 [MATCH_BUCKETS] logit bonus of the match prediction


EMBED = 8
"""Width of every slot's token embedding."""


def _requant(acc: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return np.clip(acc >> shift.astype(np.int64), 0, ACT_MAX)


def _exact(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return x @ w.astype(np.int64)


def reference(graph: Graph, rows: np.ndarray, trunk: np.ndarray | None = None, rel_index: np.ndarray | None = None,
              onehot: np.ndarray | None = None, bucket: np.ndarray | None = None,
              matmul: Callable[[np.ndarray, np.ndarray], np.ndarray] = _exact) -> tuple[np.ndarray, np.ndarray]:
    """(last hidden activations, int logits) of a graph in numpy int64: what its ONNX form must give exactly.
    matmul(x, w) -> int64 accumulators: another arithmetic (a test's float one) may stand in for the exact one."""
    x = graph.embed[rows].astype(np.int64).reshape(len(rows), -1)
    if graph.trunk:
        assert trunk is not None
        x = np.concatenate([x, trunk.astype(np.int64)], axis=1)
    for layer in graph.layers[:-1]:
        assert layer.shift is not None
        x = _requant(matmul(x, layer.w) + layer.bias, layer.shift)
    last = graph.layers[-1]
    logits = matmul(x, last.w) + last.bias
    if graph.rel is not None:
        assert rel_index is not None and onehot is not None and bucket is not None and graph.bonus is not None
        r = matmul(x, graph.rel.w) + graph.rel.bias
        r = np.concatenate([r, np.zeros((len(r), 1), np.int64)], axis=1)
        logits = logits + np.take_along_axis(r, rel_index, axis=1) + onehot * graph.bonus[bucket][:, None]
    return x.astype(np.uint8), logits


def weights(logits: np.ndarray, shift: int, exp_table: np.ndarray = EXP_TABLE) -> np.ndarray:
    """Integer logits [n, K] (accumulators of 2^-shift / LOGIT_ONE nat) -> integer weights [n, K] >= 1: the
    integer softmax (an arithmetic shift, a max and a table)."""
    q = np.array(logits, np.int64)  # a copy, worked on in place
    q >>= shift
    np.subtract(q.max(axis=1, keepdims=True), q, out=q)
    np.minimum(q, len(exp_table) - 1, out=q)
    return exp_table[q]


MIX_ONE = 256
"""A mixture weight is a share of MIX_ONE."""
MIX_BITS = 20
"""The mixture works on probabilities in 2^-MIX_BITS."""


@dataclass(frozen=True)
class Mix:
    """How one stream mixes the network with the recent symbols of its lane: share (of MIX_ONE) of the cache model,
    whose probability of k is (count of k among the lane's last `window` symbols + the network's) / (symbols + 1).
    Chosen on val per stream; share 0 is the network alone."""

    share: int = 0
    window: int = 1


class Recent:
    """Each lane's last `window` symbols of one stream, counted per symbol: the cache model's counts."""

    def __init__(self, lanes: int, alphabet: int, window: int) -> None:
        self.window = window
        self.history = np.full((lanes, window), -1, np.int64)
        self.counts = np.zeros((lanes, alphabet), np.int64)

    def push(self, t: int, lanes: np.ndarray, x: np.ndarray) -> None:
        """Symbols x of step t of these lanes in; the symbols of step t - window out (every lane still coding at
        step t coded one at each step before)."""
        pos = t % self.window
        if t >= self.window:
            self.counts[lanes, self.history[lanes, pos]] -= 1
        self.history[lanes, pos] = x
        self.counts[lanes, x] += 1


def recent_counts(x: np.ndarray, notes: np.ndarray, bounds: np.ndarray, alphabet: int, window: int) -> np.ndarray:
    """The counts `Recent` holds when these notes (piece indices) are coded [len(notes), alphabet]: each note's lane's
    previous `window` symbols of x (every symbol of the piece known, as an encoder knows them), found at once."""
    notes = np.asarray(notes, np.int64)
    start = bounds[np.searchsorted(bounds, notes, side="right") - 1]  # the first note of each note's lane
    counts = np.zeros((len(notes), alphabet), np.int64)
    rows = np.arange(len(notes))
    for back in range(1, window + 1):
        ok = notes - back >= start
        counts[rows[ok], x[notes[ok] - back]] += 1  # one symbol per row: no repeated index
    return counts


def mixed(w: np.ndarray, counts: np.ndarray, mix: Mix) -> np.ndarray:
    """The network's integer weights [n, K] mixed with the lanes' recent counts [n, K]: integer weights >= 1 (the
    network's alone when mix.share is 0). Integers all the way: the same on every machine."""
    if mix.share == 0:
        return w
    p = w << MIX_BITS  # each step in place: (w << MIX_BITS) // sum
    p //= w.sum(axis=1, keepdims=True)
    q = counts << MIX_BITS  # ((counts << MIX_BITS) + p) // (sum + 1)
    q += p
    q //= counts.sum(axis=1, keepdims=True) + 1
    p *= MIX_ONE - mix.share
    q *= mix.share
    p += q
    p += 1
    return p


# ------------------------------------------------------------------------------------------- ONNX


def _onnx_graph(graph: Graph, h_trunk: int) -> bytes:
    """The ONNX model (opset 17) of a graph: inputs 'rows' int64 [n, slots] (+ 'trunk' uint8 [n, H], and for
    pitch 'rel_index' int64 [n, 128], 'onehot' int32 [n, 128], 'bucket' int64 [n]); outputs 'hidden' uint8 and
    'logits' int32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, a: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(a, name))
        return name

    def requant(x: str, bias: np.ndarray, shift: np.ndarray, tag: str) -> str:
        nodes.append(helper.make_node("Add", [x, const(f"{tag}_b", bias.astype(np.int32))], [f"{tag}_acc"]))
        nodes.append(helper.make_node("Div", [f"{tag}_acc", const(f"{tag}_d", (1 << shift).astype(np.int32))],
                                      [f"{tag}_q"]))
        nodes.append(helper.make_node("Clip", [f"{tag}_q", const(f"{tag}_lo", np.array(0, np.int32)),
                                               const(f"{tag}_hi", np.array(ACT_MAX, np.int32))], [f"{tag}_c"]))
        nodes.append(helper.make_node("Cast", [f"{tag}_c"], [f"{tag}_u8"], to=TensorProto.UINT8))
        return f"{tag}_u8"

    def matmul(x: str, w: np.ndarray, tag: str) -> str:
        nodes.append(helper.make_node("MatMulInteger", [x, const(f"{tag}_w", w.astype(np.int8))], [f"{tag}_mm"]))
        return f"{tag}_mm"

    inputs = [helper.make_tensor_value_info("rows", TensorProto.INT64, ["n", "slots"])]
    nodes.append(helper.make_node("Gather", [const("embed", graph.embed.astype(np.uint8)), "rows"], ["g"], axis=0))
    nodes.append(helper.make_node("Reshape", ["g", const("flat", np.array([0, -1], np.int64))], ["x0"]))
    x = "x0"
    if graph.trunk:
        inputs.append(helper.make_tensor_value_info("trunk", TensorProto.UINT8, ["n", h_trunk]))
        nodes.append(helper.make_node("Concat", ["x0", "trunk"], ["x1"], axis=1))
        x = "x1"
    for i, layer in enumerate(graph.layers[:-1]):
        assert layer.shift is not None
        x = requant(matmul(x, layer.w, f"l{i}"), layer.bias, layer.shift, f"l{i}")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    last = graph.layers[-1]
    nodes.append(helper.make_node("Add", [matmul(x, last.w, "out"), const("out_b", last.bias.astype(np.int32))],
                                  ["logits0" if graph.rel is not None else "logits"]))
    if graph.rel is not None:
        assert graph.bonus is not None
        inputs += [helper.make_tensor_value_info("rel_index", TensorProto.INT64, ["n", MIDI_MAX + 1]),
                   helper.make_tensor_value_info("onehot", TensorProto.INT32, ["n", MIDI_MAX + 1]),
                   helper.make_tensor_value_info("bucket", TensorProto.INT64, ["n"])]
        nodes.append(helper.make_node("Add", [matmul(x, graph.rel.w, "rel"), const("rel_b", graph.rel.bias.astype(
            np.int32))], ["rel_l"]))
        nodes.append(helper.make_node("Shape", ["rel_l"], ["rel_shape"], end=1))
        nodes.append(helper.make_node("Concat", ["rel_shape", const("one", np.array([1], np.int64))], ["pad_shape"],
                                      axis=0))
        nodes.append(helper.make_node("ConstantOfShape", ["pad_shape"], ["pad"],
                                      value=numpy_helper.from_array(np.array([0], np.int32))))
        nodes.append(helper.make_node("Concat", ["rel_l", "pad"], ["rel_p"], axis=1))
        nodes.append(helper.make_node("GatherElements", ["rel_p", "rel_index"], ["rel_g"], axis=1))
        nodes.append(helper.make_node("Gather", [const("bonus", graph.bonus.astype(np.int32)), "bucket"], ["bn"],
                                      axis=0))
        nodes.append(helper.make_node("Unsqueeze", ["bn", const("axes1", np.array([1], np.int64))], ["bn2"]))
        nodes.append(helper.make_node("Mul", ["onehot", "bn2"], ["bonus_l"]))
        nodes.append(helper.make_node("Add", ["logits0", "rel_g"], ["logits1"]))
        nodes.append(helper.make_node("Add", ["logits1", "bonus_l"], ["logits"]))
    outputs = [helper.make_tensor_value_info("hidden", TensorProto.UINT8, ["n", None]),
               helper.make_tensor_value_info("logits", TensorProto.INT32, ["n", None])]
    model = helper.make_model(helper.make_graph(nodes, graph.name, inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="vqcodec")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def save_graphs(graphs: dict[str, Graph], folder: Path) -> dict[str, Path]:
    """Write each graph as folder/prior_<name>.onnx; returns the paths."""
    h_trunk = graphs["gap"].layers[-2].w.shape[1]
    out = {}
    for name, g in graphs.items():
        out[name] = folder / f"prior_{name}.onnx"
        out[name].write_bytes(_onnx_graph(g, h_trunk))
    return out


def load_graph(path: Path) -> Graph:
    """The integer Graph an ONNX file of `save_graphs` holds (its initializers by name): for the numpy reference."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    i = 0
    while f"l{i}_w" in init:
        d = init[f"l{i}_d"].astype(np.int64)
        layers.append(Layer(init[f"l{i}_w"], init[f"l{i}_b"], np.log2(d).astype(np.int32)))
        i += 1
    layers.append(Layer(init["out_w"], init["out_b"], None))
    rel = Layer(init["rel_w"], init["rel_b"], None) if "rel_w" in init else None
    trunk = any(inp.name == "trunk" for inp in model.graph.input)
    return Graph(model.graph.name, init["embed"], layers, trunk, rel, init.get("bonus"))


class Prior:
    """The four ONNX graphs of a bundle's prior in onnxruntime sessions, with the output shifts and exp table."""

    def __init__(self, paths: dict[str, Path], shifts: dict[str, int], exp_table: np.ndarray, layout: Layout,
                 threads: int | None = 1, mix: dict[str, Mix] | None = None) -> None:
        from vqcodec.models.runtime import session

        self.paths = paths
        self.sessions = {g: session(paths[g], threads) for g in GRAPHS}
        self.shifts, self.exp_table, self.layout = shifts, exp_table, layout
        self.mix = {g: Mix() for g in GRAPHS} | (mix or {})

    def recent(self, graph: str, lanes: int) -> Recent:
        """The recent-symbol counts a coder keeps for one stream (alphabet: the graph's output)."""
        k = {"gap": DIRECT + 1, "pitch": MIDI_MAX + 1, "velocity": self.layout.velocity_levels,
             "duration": self.layout.duration_levels}[graph]
        return Recent(lanes, k, self.mix[graph].window)

    def run(self, graph: str, rows: np.ndarray, trunk: np.ndarray | None = None, rel_index: np.ndarray | None = None,
            onehot: np.ndarray | None = None, bucket: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(hidden uint8, integer logits int32) of `graph` for a batch of rows."""
        feed: dict[str, np.ndarray] = {"rows": np.ascontiguousarray(rows, np.int64)}
        if trunk is not None:
            feed["trunk"] = trunk
        if rel_index is not None:
            assert onehot is not None and bucket is not None
            feed |= {"rel_index": np.ascontiguousarray(rel_index, np.int64), "onehot": onehot,
                     "bucket": np.ascontiguousarray(bucket, np.int64)}
        hidden, logits = self.sessions[graph].run(None, feed)
        return hidden, logits

    def softmax(self, graph: str, logits: np.ndarray) -> np.ndarray:
        """The integer softmax of a graph's logits (integer weights >= 1)."""
        return weights(logits, self.shifts[graph], self.exp_table)

    def known_weights(self, graph: str, w: np.ndarray, x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """`weights` of every note of a piece at once, its symbols x known (an encoder's): softmax weights w [n, K]
        (piece order) mixed with the counts of each note's recent symbols, RUN_ROWS notes at a time."""
        mix = self.mix[graph]
        if mix.share == 0:
            return w
        out = np.empty_like(w)
        for c in range(0, len(w), RUN_ROWS):
            notes = np.arange(c, min(c + RUN_ROWS, len(w)))
            out[notes] = mixed(w[notes], recent_counts(x, notes, bounds, w.shape[1], mix.window), mix)
        return out

    def weights(self, graph: str, w: np.ndarray, recent: Recent, lanes: np.ndarray) -> np.ndarray:
        """The integer weights rANS codes a step's symbols with: softmax weights `w` of these lanes mixed with their
        recent counts."""
        return mixed(w, recent.counts[lanes], self.mix[graph])
