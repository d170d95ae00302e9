"""Piano performances <-> the bytes of a NOTE section: pitch exact, onsets on an absolute grid, velocity and
duration quantised, pedals as changes of depth level; every stream coded with adaptive context models and rANS.

`quantise` rounds onsets to a grid of `grid_ms` in absolute time, so the error is at most grid/2 at every note
from the first to the last and never accumulates (`vqcodec.midi.choice` may pick the other neighbour within its
tolerance); what is coded is the difference of grid steps between notes. Each stream's symbol is coded under
an adaptive model: the probability of symbol k in context c is proportional to N[c, k] * COUNT_WEIGHT +
Q[c, k] + a share for k's occurrences among the stream's last CACHE_WINDOW symbols, Q the bundle's prior for
the setting (counts over the train split, see training/note_priors.py) and N what this piece has coded so far.
Coding NC03 adds a match model for pitch (music repeats its phrases: the pitch that followed the latest
earlier occurrence of the last 16, 8 or 4 pitches is predicted, and a flag says whether it is right) and
conditions velocity on the register and duration on the time to the next onset and to the next note of the
same pitch. NC04 (format 1.6) is NC03 with long gaps' escapes coded by bit length. NC05 (what the encoder
writes, format 1.9) is NC04 with each pedal's depth on `pedal_levels` levels (half-pedalling; 128 levels keep
every controller value) instead of on/off; NC02 (format 1.3), NC03 (1.5) and NC04 (1.6) are still decoded, their
pedals as on/off. NC06 (format 1.12) is NC05 with the onsets, pitches, velocities and durations coded under the
bundle's neural prior (vqcodec.midi.prior, integer too), in lanes; the encoder writes it at the prior's level when
it is smaller. NC07 and NC08 (format 1.15) are NC05 and NC06 with the pedals under PEDAL_CODING (the same symbols,
under tables counted on real pedalling), written where that is smaller. All integer, so every machine builds the
same model (the rule of vqcodec.coding.entropy). Layout: docs/FORMAT.md, section NOTE.
"""

from __future__ import annotations

import bisect
import functools
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vqcodec.coding.entropy import COUNT_WEIGHT, prior_weights
from vqcodec.errors import ChecksumError, FormatError, LimitError, TruncatedError
from vqcodec.midi import prior as neural
from vqcodec.midi.performance import MIDI_MAX, SUSTAIN, Pedal, Performance

NOTE_CODING = b"NC05"
"""Names the scheme the encoder writes in the NOTE section; another scheme gets another name. NC05 (format 1.9)
is NC04 with pedal depth: each pedal event goes to one of the setting's `pedal_levels` levels (the change of
level is coded before the event's gap), where NC04 knew only on and off."""
NC04 = b"NC04"
"""Format 1.6's scheme, still decoded: NC03 with escapes coded by bit length (a gap over DIRECT steps, e.g. a pedal
held over 2 s at a 16 ms grid, costs its excess's bit length under an adaptive model plus the bits below its
leading one, where NC03 spent 4 raw bytes)."""
NC02 = b"NC02"
"""The first scheme (format 1.3), still decoded: NC03 adds the pitch match model and richer velocity and
duration contexts."""
NC03 = b"NC03"
"""Format 1.5's scheme, still decoded."""
NC06 = b"NC06"
"""Format 1.12's scheme: NC05 with the onset gaps, pitches, velocities and durations coded under the bundle's neural
prior (`vqcodec.midi.prior`: integer graphs, the same CDFs on every machine), the piece split into lanes that a
decoder runs side by side; escapes and pedals as NC05. Written at the quality level the prior is for, when it gives
fewer bytes than NC05."""
NC07 = b"NC07"
"""Format 1.15's scheme: NC05's notes, and the pedals under the pedal coding its head names (PEDAL_CODING)."""
NC08 = b"NC08"
"""Format 1.15's scheme: NC06's notes, and the pedals under the pedal coding its head names (PEDAL_CODING)."""
CODINGS = (NC02, NC03, NC04, NOTE_CODING, NC06, NC07, NC08)
DEPTH_CODINGS = (NOTE_CODING, NC06, NC07, NC08)
"""The codings whose pedals have depth levels (the head's `levels` byte)."""
NEURAL_CODINGS = (NC06, NC08)
"""The codings whose notes are coded under the bundle's neural prior (the head's `lanes` byte)."""
PEDAL_CODED = {NOTE_CODING: NC07, NC06: NC08}
"""A coding whose pedals are NC05's -> the coding with the same notes whose pedals are coded by PEDAL_CODING."""
PEDAL_CODING = 1
"""The pedal coding NC07 and NC08 name in their head: each pedal event's gap, then its level, under context counts
of the asap train split (`PEDAL_PRIORS`, one table pair per note setting the shipped models write) where NC05 took
the bundle's on/off gap table and a built-in level prior. A reader refuses another value by name."""
PEDAL_PRIORS = "pedal_priors.npz"
"""The tables of PEDAL_CODING, beside this module: `gap-<grid_ms>-<levels>` [PEDAL_GAP_CONTEXTS, DIRECT + 1] and
`level-<grid_ms>-<levels>` [PEDAL_LEVEL_CONTEXTS, levels - 1] (none for 2 levels), counts written by
`python -m training.pedal_priors`. Frozen with the coding: other tables would need another PEDAL_CODING."""
MAX_LANES = 64
"""NC06: lanes a file may declare (each at least one note)."""
LANE_NOTES = 128
"""NC06: the encoder gives a piece one lane per LANE_NOTES notes (at least 1, at most MAX_LANES). Chosen on the asap
val pieces: one lane per 512, 256, 128, 64 or 32 notes cost 0.19, 0.28, 0.39, 0.52 and 0.64 bits/note over one lane
for the whole piece (10.35, the prior alone, before the mixture) and decoded 9.4 k, 15.8 k, 22.6 k, 27.9 k and
30.4 k notes per CPU second (pedals included): 128 is the fewest lanes that decoded at 20 k notes/s."""
MAX_NOTES = 1 << 22
"""Notes (and pedal transitions per controller) one file may declare: 4 M, some 400 hours of playing."""
MAX_PEDALS = 8
FREE_EVENTS = 4096
NOTES_PER_BYTE = 64
"""A NOTE payload holds at most FREE_EVENTS + NOTES_PER_BYTE x (bytes of rANS words) notes and pedal transitions
(1/8 bit each; real playing costs 14 or more). Decoding is a Python loop per event, and a near-certain symbol
costs almost no bits, so without this a 1 KB file could declare 4 M notes and keep a decoder busy for minutes.
The encoder refuses a performance so repetitive that its stream would break the rule."""
DIRECT = 128
"""Grid steps coded as one symbol; a larger gap is the escape symbol DIRECT, then its excess over DIRECT."""
ESCAPE_BYTES = 4
"""NC02 and NC03: the excess as this many raw bytes (a u32)."""
ESCAPE_LENGTHS = 8 * ESCAPE_BYTES + 1
"""NC04: the excess's bit length, 0 .. 32, is one symbol (table `escape`, context: onset or pedal); then the
bits below its leading one, up to ESCAPE_CHUNK at a time, low first, uniform."""
ESCAPE_CHUNK = 8
DURATION_FLOOR = 0.01
"""Seconds: duration level 0; level q is DURATION_FLOOR * ratio**q."""
DURATION_CEILING = 100.0
"""Seconds: the longest duration a level stands for (longer notes end there; the report measures it)."""
DURATION_CONTEXTS = 64
"""The previous duration level, scaled to this many buckets, is the duration stream's context."""
PEDAL_DOWN = 64
"""Controller values >= this are 'down' (MIDI's own convention for on/off controllers)."""
PEDAL_ON_OFF = 2
"""Pedal levels of NC02 to NC04 (up and down), and the fewest NC05 takes."""
MAX_PEDAL_LEVELS = MIDI_MAX + 1
"""Pedal levels that keep every controller value."""
PEDAL_VALUES = (0, MIDI_MAX)
"""Values written for up and down (the on/off codings', and any level count's lowest and highest level)."""
LEVEL_PRIOR_MASS = 1 << 20
"""NC05's built-in prior for a change of d levels (the nearer way round, modulo the level count) is
LEVEL_PRIOR_MASS // d in every context: not a table of the bundle, so a file written at any level count decodes
with any bundle (the adaptive counts soon outweigh it: a flat prior costs as much on the val pieces)."""
START_PITCH = 60
GAP_EDGES = np.array([1, 2, 3, 5, 9, 17, 33])
"""Buckets of a gap in grid steps, for contexts: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, 33+."""
N_GAP = len(GAP_EDGES) + 1
LEVEL_CONTEXTS = 3 * 2 * N_GAP
"""NC05's pedal level contexts: where the level is (lowest, between, highest), whether the pedal's previous change
rose, and the size of that change in levels (in GAP_EDGES' buckets)."""
GAP_CONTEXTS = 2 * 2 * N_GAP
"""NC05's pedal gap contexts: the bundle's (a press or a release, the previous gap's bucket), split by whether the
change goes the same way as the previous one (a pedal moving on, or turning): 3 % fewer gap bits on val, and with
LEVEL_CONTEXTS 6 % fewer pedal bits at the default level and 8 % at the top than (previous direction, previous gap
bucket) contexts."""
CLOSE_BITS = 64
"""The encoder codes the pedals both ways to choose (`pedal_coding_pays`) only when the ideal code lengths are this
close (two rANS words: the words' rounding, and NC05's escape model shared with the onsets, can tip the bytes)."""
PEDAL_GAP_CONTEXTS = 2 * 2 * 3 * N_GAP * 2
"""PEDAL_CODING's gap contexts: whether the pedal's previous change rose, whether it went the way of the one before
(a pedal moving on, or turning), where the level is (lowest, between, highest), the previous gap's bucket, and
whether the pedal is the sustain pedal."""
PEDAL_LEVEL_CONTEXTS = LEVEL_CONTEXTS * N_GAP * 2
"""PEDAL_CODING's level contexts: NC05's (LEVEL_CONTEXTS), the bucket of the gap just decoded (a quick change goes on
the way it went, a pedal held long turns) and whether the pedal is the sustain pedal."""
CACHE_WINDOW = 32
"""Symbols each stream's recency cache holds."""
CACHE_SHARE_DIV = 2
"""The cache adds 1/CACHE_SHARE_DIV of the context's weight, spread over the CACHE_WINDOW symbols it holds."""
MATCH_ORDERS = (16, 8, 4)
"""NC03's pitch match model: the most recent earlier occurrence of the last 16, else 8, else 4 pitches
predicts the pitch that followed it."""
MATCH_TABLE_BITS = 18
"""Slots of each order's match table (2^18 positions, 2 MB)."""
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15  # 2^64 / golden ratio, odd: spreads packed k-grams over the slots
_MATCH_MASKS = [(k, (1 << 7 * k) - 1) for k in MATCH_ORDERS]  # each order's rolling key keeps its last k pitches
MATCH_MAX = 32
"""Pitches compared backwards to measure a match's length (the flag's context)."""
MATCH_EDGES = np.array([6, 10, 16, 24])
"""Buckets of a match length: 4-5, 6-9, 10-15, 16-23, 24-32."""
N_MATCH = len(MATCH_EDGES) + 1
_MATCH_EDGES = MATCH_EDGES.tolist()  # for the decoder's loop: bisect, without numpy's per-call cost
NEXT_EDGES = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128])
"""Buckets of the grid steps from a note's onset to the next later onset, and to the next onset of its pitch."""
N_NEXT = len(NEXT_EDGES) + 1
NO_NEXT = 1 << 40
"""Steps to a next onset that does not exist (the last bucket)."""
NEAR_NOTES = 8
NEAR_SEMITONES = 5
"""Velocity context in NC03: the velocity of the latest of the previous NEAR_NOTES notes within NEAR_SEMITONES
of this pitch (the same hand or voice, which keeps its own level), scaled to NEAR_BUCKETS."""
NEAR_BUCKETS = 16
PREV_DURATION_BUCKETS = 8
"""Duration context in NC03: the previous duration level scaled to this many buckets."""
ESCAPE_ONSET, ESCAPE_PEDAL = 0, 1
"""NC04's escape contexts."""
_CHUNK = 4096  # positions whose adaptive probabilities the encoder builds at once
_HEAD = struct.Struct("<4sHBHB")  # coding, grid_ms, velocity_step, duration_milli, n_pedals
_LEVELS = struct.Struct("<B")  # NC05 and NC06: pedal_levels, after _HEAD
_LANES = struct.Struct("<B")  # NC06 and NC08: lanes, after _LEVELS
_PEDAL_CODING = struct.Struct("<B")  # NC07 and NC08: the pedal coding, after _LEVELS (and _LANES)
_PEDAL = struct.Struct("<BI")  # controller, transitions
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class NoteSetting:
    """The grids: rounding (`quantise`) moves onsets and pedal times <= grid_ms/2, velocity <= velocity_step/2,
    duration by a factor <= sqrt(duration_milli/1000); `vqcodec.midi.choice` may choose a neighbour within its
    tolerances. Pedal values go to `pedal_levels` levels (`pedal_level`; 2: up and down, 128: every value)."""

    grid_ms: int
    velocity_step: int
    duration_milli: int
    pedal_levels: int = PEDAL_ON_OFF

    def __post_init__(self) -> None:
        if not (1 <= self.grid_ms <= 1000 and 1 <= self.velocity_step <= 64 and 1001 <= self.duration_milli <= 4000
                and PEDAL_ON_OFF <= self.pedal_levels <= MAX_PEDAL_LEVELS and self.pedal_levels % 2 == 0):
            raise ValueError(f"note setting out of range: {self}")

    @property
    def grids(self) -> tuple[int, int, int]:
        """The note grids (grid_ms, velocity_step, duration_milli): what a bundle's quality level fixes."""
        return self.grid_ms, self.velocity_step, self.duration_milli

    @property
    def velocity_levels(self) -> int:
        return MIDI_MAX // self.velocity_step + 2

    @property
    def duration_levels(self) -> int:
        """Levels from DURATION_FLOOR up to DURATION_CEILING at this ratio."""
        return math.ceil(math.log(DURATION_CEILING / DURATION_FLOOR) / math.log(self.duration_milli / 1000)) + 1

    @property
    def duration_seconds(self) -> np.ndarray:
        """Each duration level's seconds, DURATION_FLOOR * ratio**level [duration_levels] float64, by Python's scalar
        pow (libm): numpy's array pow takes an AVX-512 path on the CPUs that have it, a unit in the last place away on
        some levels, so the same file decoded to other floats on other machines."""
        ratio = self.duration_milli / 1000
        return np.array([DURATION_FLOOR * ratio**q for q in range(self.duration_levels)])

    def duration_context(self, level: np.ndarray | int) -> np.ndarray:
        """The bucket of a duration level used as context (levels scaled to DURATION_CONTEXTS)."""
        return np.asarray(level, np.int64) * DURATION_CONTEXTS // self.duration_levels

    def streams(self, coding: bytes = NOTE_CODING) -> dict[str, tuple[int, int]]:
        """Each stream's (contexts, alphabet) under a coding: the shapes of the prior tables (named by stream;
        NC03 shares the onset and pedal tables with NC02)."""
        shared = {"onset": (N_GAP * N_GAP, DIRECT + 1), "pedal": (2 * N_GAP, DIRECT + 1)}
        if coding == NC02:
            return shared | {"pitch": (2 * (MIDI_MAX + 1), MIDI_MAX + 1),
                             "velocity": (2 * self.velocity_levels, self.velocity_levels),
                             "duration": (2 * DURATION_CONTEXTS, self.duration_levels)}
        nc03 = shared | {"pitch_hit": (2 * N_MATCH, 2), "pitch_miss": (2 * (MIDI_MAX + 1), MIDI_MAX + 1),
                         "velocity_near": (4 * NEAR_BUCKETS * self.velocity_levels, self.velocity_levels),
                         "duration_next": (N_NEXT * N_NEXT * PREV_DURATION_BUCKETS, self.duration_levels)}
        return nc03 if coding == NC03 else nc03 | {"escape": (2, ESCAPE_LENGTHS)}


@dataclass
class Symbols:
    """One piece as the integers the coder codes, in decoding order; what `quantise` gives and `rebuild` reads."""

    gap: np.ndarray  # [N] onset grid steps since the previous note (the first: since 0)
    pitch: np.ndarray  # [N]
    velocity: np.ndarray  # [N] velocity levels
    duration: np.ndarray  # [N] duration levels
    pedals: dict[int, np.ndarray]  # controller -> [M] grid steps between its events (the first: since 0)
    depth: dict[int, np.ndarray] = field(default_factory=dict)
    """controller -> [M] the level each event goes to (from level 0 before the first, each a change); a pedal
    left out goes up and down: 1, 0, 1, ... (the on/off codings)."""

    def __post_init__(self) -> None:
        for number, gaps in self.pedals.items():
            self.depth.setdefault(number, on_off_levels(len(gaps)))


def quantise(perf: Performance, s: NoteSetting) -> Symbols:
    """The integers of `perf` at setting s, notes sorted by (onset step, pitch)."""
    step = s.grid_ms / 1000
    on = np.floor(perf.onset / step + 0.5).astype(np.int64)
    order = np.lexsort((perf.pitch, on))
    on = on[order]
    dur = np.maximum(perf.offset - perf.onset, DURATION_FLOOR)[order]
    dq = np.floor(np.log(dur / DURATION_FLOOR) / np.log(s.duration_milli / 1000) + 0.5)
    vq = np.floor(perf.velocity[order] / s.velocity_step + 0.5)
    return Symbols(np.diff(on, prepend=0), perf.pitch[order].astype(np.int64), vq.astype(np.int64),
                   np.clip(dq, 0, s.duration_levels - 1).astype(np.int64), *quantise_pedals(perf, s))


def on_off_levels(n: int) -> np.ndarray:
    """The levels of n on/off transitions: down (1), up (0), down, ..."""
    return (np.arange(n, dtype=np.int64) + 1) % 2


def pedal_level(value: np.ndarray, levels: int) -> np.ndarray:
    """Controller values 0..127 -> levels 0..levels-1: equal bins of 128 / levels values (so, levels being even,
    every value from PEDAL_DOWN up is in the upper half: the on/off state is kept at every level count)."""
    return np.asarray(value, np.int64) * levels // MAX_PEDAL_LEVELS


def level_values(levels: int) -> np.ndarray:
    """The controller value each level decodes to: 0 for the lowest, 127 for the highest (a pedal at rest), the
    middle of its bin (rounded down) for the others; level j itself when levels is 128."""
    j = np.arange(levels, dtype=np.int64)
    lo = -(-MAX_PEDAL_LEVELS * j // levels)
    hi = -(-MAX_PEDAL_LEVELS * (j + 1) // levels) - 1
    values = (lo + hi) // 2
    values[0], values[-1] = PEDAL_VALUES
    return values


def quantise_pedals(perf: Performance, s: NoteSetting) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Each pedal's changes of level as (grid steps between them, the level each goes to), times rounded to the
    grid: of the events that round to one grid step the last one holds from there on (the others would last no
    time), and an event that leaves the level as it was is no event. A pedal is at level 0 before its first."""
    step = s.grid_ms / 1000
    gaps, depth = {}, {}
    for number, p in sorted(perf.pedals.items()):
        at = np.floor(p.time / step + 0.5).astype(np.int64)
        level = pedal_level(p.value, s.pedal_levels)
        last = np.ones(len(at), bool)
        last[:-1] = at[1:] != at[:-1]  # times are sorted: the last event of each grid step
        at, level = at[last], level[last]
        change = level != np.r_[0, level[:-1]]
        gaps[number] = np.diff(at[change], prepend=0)
        depth[number] = level[change]
    return gaps, depth


def rebuild(sym: Symbols, s: NoteSetting) -> Performance:
    """The performance the symbols stand for (velocity at least 1, pedal values `level_values`)."""
    step = s.grid_ms / 1000
    onset = np.cumsum(sym.gap) * step
    duration = s.duration_seconds[sym.duration]
    velocity = np.clip(sym.velocity * s.velocity_step, 1, MIDI_MAX)
    values = level_values(s.pedal_levels)
    pedals = {number: Pedal(np.cumsum(gaps) * step, values[sym.depth[number]]) for number, gaps in sym.pedals.items()}
    return Performance(sym.pitch, onset, onset + duration, velocity, pedals)


def _gap_bucket(g: np.ndarray) -> np.ndarray:
    return np.searchsorted(GAP_EDGES, g, side="right")


_EDGES = GAP_EDGES.tolist()


def _bucket(g: int) -> int:
    """`_gap_bucket` of one gap, for the decoder's loops (the same bucket, without numpy's per-call cost)."""
    return bisect.bisect_right(_EDGES, g)


def _prev(a: np.ndarray, first: int, k: int = 1) -> np.ndarray:
    """a shifted right by k, padded with `first`."""
    return np.concatenate([np.full(min(k, len(a)), first, np.int64), a[: len(a) - k]])


def contexts(sym: Symbols, s: NoteSetting, coding: bytes = NOTE_CODING) -> dict[str, np.ndarray]:
    """Every note stream's context per position, from what the decoder knows then: the onsets and pitches of
    every note (decoded first) and the earlier symbols of the stream. NC03's pitch streams: see `pitch_plan`."""
    chord = (sym.gap == 0).astype(np.int64)
    gb = _gap_bucket(sym.gap)
    start_v = round(64 / s.velocity_step)
    onset = _prev(gb, 0) * N_GAP + _prev(gb, 0, 2)
    prev_v = _prev(sym.velocity, start_v) * 2 + chord
    prev_d = s.duration_context(_prev(sym.duration, 0))
    if coding == NC02:
        return {"onset": onset, "pitch": _prev(sym.pitch, START_PITCH) * 2 + chord, "velocity": prev_v,
                "duration": prev_d * 2 + chord}
    nexts = _next_buckets(np.cumsum(sym.gap), sym.pitch)
    j = near_notes(sym.pitch)
    near = np.where(j >= 0, sym.velocity[j], start_v)
    velocity = _velocity_context(prev_v, near, sym.pitch, _prev(sym.pitch, START_PITCH), s)
    return {"onset": onset, "velocity_near": velocity,
            "duration_next": _duration_context(nexts, _prev(sym.duration, 0), s)}


def _next_buckets(steps: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """NC03's duration context before the previous level: per note, the buckets of the grid steps to the next
    later onset and to the next onset of its pitch, combined."""
    nxt = np.searchsorted(NEXT_EDGES, _next_onset(steps), side="right")
    same = np.searchsorted(NEXT_EDGES, _next_same_pitch(steps, pitch), side="right")
    return (nxt * N_NEXT + same) * PREV_DURATION_BUCKETS


def _duration_context(nexts: np.ndarray | int, prev_level: np.ndarray | int, s: NoteSetting) -> np.ndarray:
    """NC03's duration context: `_next_buckets` and the previous duration level in PREV_DURATION_BUCKETS buckets."""
    return nexts + s.duration_context(prev_level) * PREV_DURATION_BUCKETS // DURATION_CONTEXTS


def next_tokens(gap: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per note, the NEXT_EDGES buckets of the grid steps to the next later onset and to the next onset of its pitch
    (gaps with their escapes: the real steps)."""
    steps = np.cumsum(gap)
    return (np.searchsorted(NEXT_EDGES, _next_onset(steps), side="right"),
            np.searchsorted(NEXT_EDGES, _next_same_pitch(steps, pitch), side="right"))


def near_notes(pitch: np.ndarray) -> np.ndarray:
    """Per note, the index of the latest of the NEAR_NOTES notes before it within NEAR_SEMITONES of its pitch (-1 if
    none): the note whose velocity level `_near_velocity` gives, found for every note at once."""
    pitch = np.asarray(pitch, np.int64)
    out = np.full(len(pitch), -1, np.int64)
    for k in range(NEAR_NOTES, 0, -1):  # the nearest k last, so it wins
        i = np.arange(k, len(pitch))
        near = np.abs(pitch[i - k] - pitch[i]) <= NEAR_SEMITONES
        out[i[near]] = i[near] - k
    return out


def _near_velocity(pitch: np.ndarray, velocity: np.ndarray, i: int, first: int) -> int:
    """The velocity level of the latest of the NEAR_NOTES notes before note i within NEAR_SEMITONES of its pitch
    (`first` if none)."""
    for j in range(i - 1, max(i - 1 - NEAR_NOTES, -1), -1):
        if abs(int(pitch[j]) - int(pitch[i])) <= NEAR_SEMITONES:
            return int(velocity[j])
    return first


def _velocity_context(prev_v: np.ndarray | int, near: np.ndarray | int, pitch: np.ndarray | int,
                      prev_pitch: np.ndarray | int, s: NoteSetting) -> np.ndarray | int:
    """NC03's velocity context: the previous level and chord flag (prev_v, as NC02's), the near level's bucket,
    and whether the pitch rose."""
    return ((prev_v * NEAR_BUCKETS + near * NEAR_BUCKETS // s.velocity_levels) * 2 + (pitch > prev_pitch))


def _next_onset(steps: np.ndarray) -> np.ndarray:
    """Grid steps from each note's onset to the next later onset (NO_NEXT after the last); steps sorted."""
    later = np.searchsorted(steps, steps, side="right")
    return np.where(later < len(steps), steps[np.minimum(later, len(steps) - 1)] - steps, NO_NEXT)


def _next_same_pitch(steps: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Grid steps from each note's onset to the next onset of the same pitch (NO_NEXT if none)."""
    order = np.lexsort((np.arange(len(pitch)), pitch))
    out = np.full(len(pitch), NO_NEXT, np.int64)
    follows = np.flatnonzero(np.diff(pitch[order]) == 0)  # order[f + 1] is the next note of order[f]'s pitch
    out[order[follows]] = steps[order[follows + 1]] - steps[order[follows]]
    return out


class _Matcher:
    """NC03's match model: predicts the next pitch from the latest earlier occurrence of the longest of the
    MATCH_ORDERS last pitches. Each order keeps a table of 2^MATCH_TABLE_BITS positions indexed by a hash of
    the k-gram (7 bits a pitch, packed exactly, then multiplied and shifted: the same on every machine); a
    slot whose k-gram differs from the current one (a collision) is no match. Memory stays bounded whatever
    the number of notes."""

    def __init__(self) -> None:
        self.seq: list[int] = []
        self.tables = {k: np.full(1 << MATCH_TABLE_BITS, -1, np.int64) for k in MATCH_ORDERS}
        self.keys = dict.fromkeys(MATCH_ORDERS, 0)  # the last k pitches, packed (rolling)

    def _slot(self, k: int) -> int:
        return (self.keys[k] * _HASH_MULTIPLIER) % (1 << 64) >> (64 - MATCH_TABLE_BITS)

    def predict(self) -> tuple[int, int]:
        """(predicted pitch, match length), or (-1, 0) without a match."""
        pred, length, _ = self.predict_at()
        return pred, length

    def predict_at(self) -> tuple[int, int, int]:
        """(predicted pitch, match length, index of the note the prediction is), or (-1, 0, -1)."""
        i = len(self.seq)
        for k in MATCH_ORDERS:
            if i < k:
                continue
            j = int(self.tables[k][self._slot(k)])
            if j >= 0 and self.seq[j - k : j] == self.seq[i - k :]:
                n = k  # the k-gram's pitches are equal: compared from the one before it
                while n < MATCH_MAX and j - 1 - n >= 0 and self.seq[j - 1 - n] == self.seq[i - 1 - n]:
                    n += 1
                return self.seq[j], n, j
        return -1, 0, -1

    def bucket_at(self) -> tuple[int, int, int]:
        """(predicted pitch, length bucket 1..N_MATCH, index) of `predict_at`, or (-1, 0, -1) without a match."""
        pred, n, j = self.predict_at()
        return (pred, 1 + bisect.bisect_right(_MATCH_EDGES, n), j) if pred >= 0 else (-1, 0, -1)

    def add(self, pitch: int) -> None:
        """Append the decoded pitch; the k-grams before it now point at it."""
        pitch, i = int(pitch), len(self.seq)
        for k, mask in _MATCH_MASKS:
            if i >= k:
                self.tables[k][self._slot(k)] = i
            self.keys[k] = (self.keys[k] << 7 | pitch) & mask
        self.seq.append(pitch)


class _LaneMatcher(_Matcher):
    """NC06's match model: NC03's (the same orders, lengths and buckets) with exact tables (a dict per order from the
    packed k-gram to its latest position) in place of hashed slots: no collisions, and nothing to allocate for a
    lane that holds a few hundred notes."""

    def __init__(self) -> None:
        self.seq = []
        self.latest: dict[int, dict[int, int]] = {k: {} for k in MATCH_ORDERS}
        self.keys = dict.fromkeys(MATCH_ORDERS, 0)

    def predict_at(self) -> tuple[int, int, int]:
        i = len(self.seq)
        for k in MATCH_ORDERS:
            if i < k:
                continue
            j = self.latest[k].get(self.keys[k], -1)
            if j >= 0:
                n = k  # the same k-gram, exactly: compared from the pitch before it
                while n < MATCH_MAX and j - 1 - n >= 0 and self.seq[j - 1 - n] == self.seq[i - 1 - n]:
                    n += 1
                return self.seq[j], n, j
        return -1, 0, -1

    def add(self, pitch: int) -> None:
        pitch, i = int(pitch), len(self.seq)
        keys, latest = self.keys, self.latest
        for k, mask in _MATCH_MASKS:
            if i >= k:
                latest[k][keys[k]] = i
            keys[k] = (keys[k] << 7 | pitch) & mask
        self.seq.append(pitch)

    @staticmethod
    def buckets(pitch: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per note of a piece in lanes (lane l: notes bounds[l] .. bounds[l + 1]), what `bucket_at` gives before it
        in its lane's matcher, every pitch known: (predicted pitch, length bucket, piece index of the note the
        prediction is; -1, 0, -1 without a match), found for every note at once."""
        pitch = np.asarray(pitch, np.int64)
        start = np.repeat(bounds[:-1], np.diff(bounds))
        pred, length, at = _matches(pitch, start, hashed=False)
        return pred, np.where(pred >= 0, 1 + np.searchsorted(MATCH_EDGES, length, side="right"), 0), at


def _previous_same(keys: list[np.ndarray]) -> np.ndarray:
    """Per row, the latest earlier row whose keys are all the same (-1: none)."""
    n = len(keys[0])
    order = np.lexsort([np.arange(n), *keys])  # by the keys, then by row
    same = np.ones(max(n - 1, 0), bool)
    for k in keys:
        same &= k[order[1:]] == k[order[:-1]]
    prev = np.full(n, -1, np.int64)
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _matches(pitch: np.ndarray, start: np.ndarray, hashed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The match model's (predicted pitch, match length, index of the note predicted; -1, 0, -1 without a match)
    before every note of a known sequence at once; start: each note's first note of its lane (the model sees only
    its lane). hashed: `_Matcher`'s hashed slots (a k-gram whose slot last held another k-gram is no match at that
    order), else `_LaneMatcher`'s exact k-grams. What the incremental models give, note by note."""
    n = len(pitch)
    pos = np.arange(n) - start
    found = np.full(n, -1, np.int64)
    for k in MATCH_ORDERS:  # the longest order with a match wins
        i = np.flatnonzero((pos >= k) & (found < 0))
        rows = np.flatnonzero(pos >= k)  # every note whose last k pitches a table holds
        gram = np.empty((len(rows), k), np.int16)  # [rows, k], the latest pitch first (pitches fit 7 bits)
        for m in range(k):
            gram[:, m] = pitch[rows - 1 - m]
        if hashed:  # the packed k-gram modulo 2^64 (7 bits a pitch), times the multiplier, its top bits
            key = np.zeros(len(rows), np.uint64)
            for m in range(min(k, 64 // 7 + 1)):
                key |= gram[:, m].astype(np.uint64) << np.uint64(7 * m)
            prev = _previous_same([(key * np.uint64(_HASH_MULTIPLIER)) >> np.uint64(64 - MATCH_TABLE_BITS)])
            ok = prev >= 0
            ok[ok] = np.all(gram[prev[ok]] == gram[ok], axis=1)  # a slot last held by another k-gram: no match
        else:
            words = [np.zeros(len(rows), np.int64) for _ in range(0, k, 8)]  # 8 pitches of 7 bits a word
            for m in range(k):
                words[m // 8] |= gram[:, m].astype(np.int64) << 7 * (m % 8)
            prev = _previous_same([start[rows], *words])
            ok = prev >= 0
        j = np.full(n, -1, np.int64)
        j[rows[ok]] = rows[prev[ok]]
        found[i] = j[i]
    hit = np.flatnonzero(found >= 0)
    j = found[hit]
    length = np.zeros(n, np.int64)
    alive = np.ones(len(hit), bool)
    for m in range(MATCH_MAX):  # pitches equal going back from both, within the lane
        alive &= j - 1 - m >= start[hit]
        alive[alive] = pitch[j[alive] - 1 - m] == pitch[hit[alive] - 1 - m]
        length[hit] += alive
    pred = np.full(n, -1, np.int64)
    pred[hit] = pitch[j]
    return pred, length, found


def match_predictions(pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per note, the match model's predicted pitch (-1: none) and match length, as the decoder sees them."""
    pitch = np.asarray(pitch, np.int64)
    pred, length, _ = _matches(pitch, np.zeros(len(pitch), np.int64), hashed=True)
    return pred, length


def _hit_context(length: int | np.ndarray, chord: int | np.ndarray) -> int | np.ndarray:
    return np.searchsorted(MATCH_EDGES, length, side="right") * 2 + chord


def pitch_plan(sym: Symbols) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NC03's pitch streams: (notes with a prediction, their hit flags and flag contexts, the notes whose pitch
    is coded, their contexts). A note with a prediction codes a flag; its pitch is coded unless the flag hits."""
    chord = (sym.gap == 0).astype(np.int64)
    pred, length = match_predictions(sym.pitch)
    has = np.flatnonzero(pred >= 0)
    hit = (sym.pitch[has] == pred[has]).astype(np.int64)
    coded = np.setdiff1d(np.arange(len(sym.pitch)), has[hit == 1])
    miss_ctx = (_prev(sym.pitch, START_PITCH) * 2 + chord)[coded]
    return has, hit, np.asarray(_hit_context(length[has], chord[has])), coded, miss_ctx


def pedal_contexts(gaps: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """Context of each pedal gap: whether it ends in a press (the level rises; on/off: every other event, from
    the first) or a release, and the previous gap's bucket."""
    depth = on_off_levels(len(gaps)) if depth is None else depth
    press = (depth > _prev(depth, 0)).astype(np.int64)
    return press * N_GAP + _prev(_gap_bucket(gaps), 0)


def level_symbols(depth: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """NC05: (symbol, context) of each pedal event's level. The symbol is the change of level modulo `levels`,
    less 1 (a change is never 0): 0 .. levels - 2. The context: `level_context` of the level before, and of the
    previous change (none at the start)."""
    before = _prev(depth, 0)
    change = depth - before
    return change % levels - 1, level_context(before, _prev(change, 0), levels)


def level_context(before: np.ndarray | int, last_change: np.ndarray | int, levels: int) -> np.ndarray:
    """NC05's level context: where the level before is (0 lowest, 1 between, 2 highest), whether the previous
    change rose, and the bucket of its size."""
    before, last_change = np.asarray(before, np.int64), np.asarray(last_change, np.int64)
    where = np.where(before == 0, 0, np.where(before == levels - 1, 2, 1))
    return (where * 2 + (last_change > 0)) * N_GAP + _gap_bucket(np.abs(last_change))


def level_prior(levels: int) -> np.ndarray:
    """NC05's prior counts [LEVEL_CONTEXTS, levels - 1] for the level symbols: a change of d levels (the nearer way
    round) counts LEVEL_PRIOR_MASS // d; integers, the same on every machine."""
    d = np.arange(1, levels, dtype=np.int64)
    return np.tile(LEVEL_PRIOR_MASS // np.minimum(d, levels - d), (LEVEL_CONTEXTS, 1))


def _level_context(before: int, last_change: int, levels: int) -> int:
    """`level_context` of one event, for the decoder's loop."""
    where = 0 if before == 0 else 2 if before == levels - 1 else 1
    return (where * 2 + (last_change > 0)) * N_GAP + _bucket(abs(last_change))


def gap_contexts(gaps: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """NC05's pedal gap contexts (GAP_CONTEXTS): `pedal_contexts`' press flag and previous gap bucket, and whether
    the press flag is the previous event's (none before the first: a release)."""
    press = (depth > _prev(depth, 0)).astype(np.int64)
    return (press * 2 + (press == _prev(press, 0))) * N_GAP + _prev(_gap_bucket(gaps), 0)


def gap_prior(pedal: np.ndarray) -> np.ndarray:
    """NC05's pedal gap prior: the bundle's `pedal` table [2 * N_GAP, K] with each row repeated for both values of
    the same-way flag, in GAP_CONTEXTS' order."""
    return np.concatenate([pedal[:N_GAP], pedal[:N_GAP], pedal[N_GAP:], pedal[N_GAP:]])


def pedal_streams(number: int, gaps: np.ndarray, depth: np.ndarray,
                  levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PEDAL_CODING's (gap contexts, gap symbols, level contexts, level symbols) of one pedal's events, in the order
    they are coded: each event's gap (escaped over DIRECT), then its level (`level_symbols`; none at 2 levels)."""
    press = (depth > _prev(depth, 0)).astype(np.int64)
    before, sustain = _prev(depth, 0), int(number == SUSTAIN)
    turned = _prev(press, 0) * 2 + (_prev(press, 0) == _prev(press, 0, 2))
    gap_ctx = ((turned * 3 + _where(before, levels)) * N_GAP + _prev(_gap_bucket(gaps), 0)) * 2 + sustain
    level, level_ctx = level_symbols(depth, levels)
    return gap_ctx, np.minimum(gaps, DIRECT), (level_ctx * N_GAP + _gap_bucket(gaps)) * 2 + sustain, level


def _where(before: np.ndarray, levels: int) -> np.ndarray:
    """Where each level is: 0 lowest, 1 between, 2 highest."""
    return np.where(before == 0, 0, np.where(before == levels - 1, 2, 1))


@functools.cache
def _pedal_tables() -> dict[str, np.ndarray]:
    with np.load(Path(__file__).with_name(PEDAL_PRIORS), allow_pickle=False) as z:
        return {k: z[k].astype(np.int64) for k in z.files}


def pedal_priors(s: NoteSetting) -> tuple[np.ndarray, np.ndarray] | None:
    """PEDAL_CODING's (gap, level) count tables for setting s's grid and pedal levels (the level table empty at 2
    levels), or None when it has none (the coding is then not written, and a file that uses it is refused)."""
    key = f"{s.grid_ms}-{s.pedal_levels}"
    tables = _pedal_tables()
    if f"gap-{key}" not in tables:
        return None
    level = tables.get(f"level-{key}", np.zeros((PEDAL_LEVEL_CONTEXTS, 0), np.int64))
    return tables[f"gap-{key}"], level


def stream_symbols(sym: Symbols) -> dict[str, np.ndarray]:
    """Each stream's coded symbols (gaps over DIRECT become the escape symbol)."""
    pedal = np.concatenate([g for g in sym.pedals.values()] or [np.zeros(0, np.int64)])
    return {"onset": np.minimum(sym.gap, DIRECT), "pitch": sym.pitch, "velocity": sym.velocity,
            "duration": sym.duration, "pedal": np.minimum(pedal, DIRECT)}


def _coded(sym: Symbols, s: NoteSetting,
           coding: bytes) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray | None]:
    """Stream -> (contexts, symbols) of everything a coding codes with a model, each stream in its own order; and
    for NC03 the decoding order of the pitch part (flags, then coded pitches, as they interleave note by note)."""
    ctx = contexts(sym, s, coding)
    x = stream_symbols(sym)
    pedal_ctx = np.concatenate([pedal_contexts(g, sym.depth[c]) for c, g in sym.pedals.items()]
                               or [np.zeros(0, np.int64)])
    out = {"onset": (ctx["onset"], x["onset"]), "pedal": (pedal_ctx, x["pedal"])}
    if coding == NC02:
        return out | {k: (ctx[k], x[k]) for k in ("pitch", "velocity", "duration")}, None
    has, hit, hit_ctx, coded, miss_ctx = pitch_plan(sym)
    order = np.argsort(np.concatenate([has * 2, coded * 2 + 1]), kind="stable")
    out |= {"pitch_hit": (hit_ctx, hit), "pitch_miss": (miss_ctx, sym.pitch[coded]),
            "velocity_near": (ctx["velocity_near"], x["velocity"]),
            "duration_next": (ctx["duration_next"], x["duration"])}
    if _gamma_escapes(coding):
        lengths = [bit_lengths(_excess(g)) for g in [sym.gap, *sym.pedals.values()]]
        out["escape"] = (np.repeat([ESCAPE_ONSET] + [ESCAPE_PEDAL] * len(sym.pedals), [len(n) for n in lengths]),
                         np.concatenate(lengths))
    return out, order


def count(sym: Symbols, s: NoteSetting, coding: bytes = NOTE_CODING) -> dict[str, np.ndarray]:
    """(context, symbol) counts of one piece per stream: what the training split's prior sums."""
    out = {}
    for name, (c, x) in _coded(sym, s, coding)[0].items():
        table = np.zeros(s.streams(coding)[name], np.int64)
        np.add.at(table, (c, x), 1)
        out[name] = table
    return out


class _Model:
    """The adaptive model of one stream: integer prior weights, what has been coded so far in each context, and
    a cache of the last CACHE_WINDOW symbols of the stream (music repeats its recent pitches, gaps, velocities
    and durations) that adds CACHE_SHARE of the context's weight to the symbols it holds (unless `cached` is False:
    PEDAL_CODING's models, whose priors know the pedals well, are better without it)."""

    def __init__(self, prior_counts: np.ndarray, cached: bool = True) -> None:
        self.cached = cached
        self.prior = prior_weights(prior_counts[None])[0]
        self.prior_sum = self.prior.sum(axis=1)
        self.counts = np.zeros(self.prior.shape, np.int64)
        self.seen = np.zeros(len(self.prior), np.int64)  # symbols coded in each context
        self.history: list[int] = []  # the last CACHE_WINDOW symbols, oldest first
        self.recent = np.zeros(self.prior.shape[1], np.int64)

    def rows(self, ctx: np.ndarray, sym: np.ndarray) -> np.ndarray:
        """Encoder: the weights each position is coded with [n, K], then those symbols counted."""
        out = []
        k = self.prior.shape[1]
        for a in range(0, len(ctx), _CHUNK):
            c, x = ctx[a : a + _CHUNK], sym[a : a + _CHUNK]
            n = len(c)
            order = np.argsort(c, kind="stable")
            hot = np.zeros((n, k), np.int64)
            hot[np.arange(n), x[order]] = 1
            before = np.cumsum(hot, axis=0)
            before -= hot  # counts before each position, in sorted order
            first = np.flatnonzero(np.r_[True, np.diff(c[order]) != 0])
            runs = np.diff(np.r_[first, n])
            before -= np.repeat(before[first], runs, axis=0)
            base = np.empty_like(before)  # counts * COUNT_WEIGHT + prior, built in place
            base[order] = before
            base += self.counts[c]
            base *= COUNT_WEIGHT
            base += self.prior[c]
            h = len(self.history)
            window = np.concatenate([np.array(self.history, np.int64), x])  # position i's cache: window[i+h-W : i+h]
            if self.cached:
                earlier = np.empty(n, np.int64)  # positions before each in its context, in this chunk
                earlier[order] = np.arange(n) - np.repeat(first, runs)
                weight = (self.seen[c] + earlier) * COUNT_WEIGHT + self.prior_sum[c]
                share = weight // (CACHE_WINDOW * CACHE_SHARE_DIV)
                at = np.arange(n)
                for back in range(1, CACHE_WINDOW + 1):  # the cache's share, one of its symbols at a time
                    src = at + h - back
                    ok = src >= 0
                    base[at[ok], window[src[ok]]] += share[ok]  # one symbol per row: no repeated index
            out.append(base.astype(np.float64))
            np.add.at(self.counts, (c, x), 1)
            np.add.at(self.seen, c, 1)
            self.history = window[-CACHE_WINDOW:].tolist()
        self.recent = np.bincount(np.array(self.history, np.int64), minlength=k).astype(np.int64)
        return np.concatenate(out) if out else np.zeros((0, k))

    def ideal_bits(self, ctx: np.ndarray, sym: np.ndarray) -> float:
        """The ideal code length of symbols `sym` in contexts `ctx` under this model, fresh (nothing coded yet), in
        bits: -log2 of each symbol's weight over its row's, the weights `rows` gives, without building the rows
        (sorts, not [n, K] arrays)."""
        assert not self.history and not self.seen.any(), "ideal_bits measures a fresh model"
        n = len(sym)
        if not n:
            return 0.0
        at = np.arange(n, dtype=np.int64)
        pair = ctx * self.prior.shape[1] + sym
        x_before = _earlier(pair, at, n)  # symbols x coded before in context c
        c_before = _earlier(ctx, at, n)  # symbols coded before in context c
        w = x_before * COUNT_WEIGHT + self.prior[ctx, sym]
        total = c_before * COUNT_WEIGHT + self.prior_sum[ctx]
        if self.cached:
            share = total // (CACHE_WINDOW * CACHE_SHARE_DIV)
            w = w + _earlier(sym, at, n, CACHE_WINDOW) * share
            total = total + np.minimum(at, CACHE_WINDOW) * share
        return float(-np.log2(w / total).sum())

    def weights(self, c: int) -> np.ndarray:
        """Decoder: the weights of the next symbol in context c [1, K] (`rows`' integers, for one row)."""
        w = self.counts[c] * COUNT_WEIGHT + self.prior[c]
        if self.cached:
            share = (int(self.seen[c]) * COUNT_WEIGHT + int(self.prior_sum[c])) // (CACHE_WINDOW * CACHE_SHARE_DIV)
            w = w + self.recent * share
        return w.astype(np.float64)[None]

    def weights_of(self, c: int, symbols: list[int]) -> tuple[list[int], int]:
        """The integer weights `weights(c)` gives these symbols, and that row's sum, without building the row (the
        encoder's choice reads a few of each row): counts[c] sums to seen[c], the cache to its length."""
        base = int(self.seen[c]) * COUNT_WEIGHT + int(self.prior_sum[c])
        share = base // (CACHE_WINDOW * CACHE_SHARE_DIV) if self.cached else 0
        counts, prior, recent = self.counts[c], self.prior[c], self.recent
        return ([int(counts[k]) * COUNT_WEIGHT + int(prior[k]) + int(recent[k]) * share for k in symbols],
                base + len(self.history) * share)

    def update(self, c: int, x: int) -> None:
        """Decoder: count symbol x, coded in context c, and move it into the cache."""
        self.counts[c, x] += 1
        self.seen[c] += 1
        self.recent[x] += 1
        self.history.append(x)
        if len(self.history) > CACHE_WINDOW:
            self.recent[self.history.pop(0)] -= 1


def _earlier(key: np.ndarray, at: np.ndarray, n: int, window: int | None = None) -> np.ndarray:
    """For each position i, how many positions before it (at most `window` before, if given) hold the same key."""
    keyed = key.astype(np.int64) * (n + 1) + at
    ordered = np.sort(keyed)
    start = keyed - (at if window is None else np.minimum(at, window))
    return np.searchsorted(ordered, keyed) - np.searchsorted(ordered, start)


def _family():  # noqa: ANN202 - constriction is imported lazily, like vqcodec.coding.entropy does
    import constriction

    return constriction


def _gamma_escapes(coding: bytes) -> bool:
    """Whether a coding codes its escapes by bit length (NC04 and later)."""
    return coding not in (NC02, NC03)


def _symbols_crc(sym: Symbols, coding: bytes) -> int:
    parts = [sym.gap, sym.pitch, sym.velocity, sym.duration, *sym.pedals.values()]
    if coding in DEPTH_CODINGS:
        parts += [sym.depth[c] for c in sym.pedals]
    return zlib.crc32(b"".join(np.asarray(p, "<i8").tobytes() for p in parts))


def _plan(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray], coding: bytes = NOTE_CODING,
          net: neural.Prior | None = None, lanes: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(stream, symbols, weights) in decoding order: onsets and their escapes, pitch, velocity, duration, then
    each pedal's gaps and escapes. NC03's pitch part interleaves, note by note, the match flag (when the note
    has a prediction) and the pitch (unless the flag hit); flag weights are padded to the pitch alphabet."""
    if len(sym.gap) > MAX_NOTES or len(sym.pedals) > MAX_PEDALS or any(len(g) > MAX_NOTES for g in sym.pedals.values()):
        raise LimitError(f"more than {MAX_NOTES} notes or pedal transitions, or {MAX_PEDALS} pedals")
    levels = s.pedal_levels if coding in DEPTH_CODINGS else PEDAL_ON_OFF
    for c, g in sym.pedals.items():
        d = sym.depth[c]
        if len(d) != len(g) or not (np.all((d >= 0) & (d < levels)) and np.all(d != _prev(d, 0))):
            raise ValueError(f"pedal {c}: levels must change at every event and lie in 0..{levels - 1}"
                             + ("" if coding in DEPTH_CODINGS else f" (coding {coding!r} holds on/off pedals)"))
    escape = _Model(priors["escape"]) if _gamma_escapes(coding) else None  # onsets' escapes, then pedals'
    if coding in NEURAL_CODINGS:
        assert net is not None and lanes is not None and escape is not None
        return _plan_nc06(sym, s, net, lanes, escape) + _pedal_plan(sym, s, priors, coding, escape)
    streams, pitch_order = _coded(sym, s, coding)

    def rows(name: str) -> tuple[str, np.ndarray, np.ndarray]:
        c, x = streams[name]
        return name, x, _Model(priors[name]).rows(c, x)

    onset_escapes = _escapes(sym.gap) if escape is None else _gamma(_excess(sym.gap), escape, ESCAPE_ONSET)
    plan = [rows("onset"), ("onset", *onset_escapes)]
    if coding == NC02:
        plan += [rows("pitch"), rows("velocity"), rows("duration")]
    else:
        (_, hit, hit_w), (_, miss, miss_w) = rows("pitch_hit"), rows("pitch_miss")
        assert pitch_order is not None  # every coding after NC02 gives the order of its pitch part
        weights = np.zeros((len(pitch_order), MIDI_MAX + 1))
        weights[: len(hit), :2] = hit_w
        weights[len(hit) :] = miss_w
        plan += [("pitch", np.concatenate([hit, miss])[pitch_order], weights[pitch_order]),
                 ("velocity", *rows("velocity_near")[1:]), ("duration", *rows("duration_next")[1:])]
    return plan + _pedal_plan(sym, s, priors, coding, escape)


def _pedal_plan(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray], coding: bytes,
                escape: _Model | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Each pedal's (level and) gap symbols and its escapes (under `escape`, the model the onsets' escapes were
    coded with, None before NC04), in decoding order."""
    if coding in PEDAL_CODED.values():
        return _coded_pedal_plan(sym, s, priors)
    plan = []
    depth = coding in DEPTH_CODINGS
    levels = s.pedal_levels if depth else PEDAL_ON_OFF

    def escapes(gaps: np.ndarray, ctx: int) -> tuple[np.ndarray, np.ndarray]:
        return _escapes(gaps) if escape is None else _gamma(_excess(gaps), escape, ctx)

    pedal_model = _Model(gap_prior(priors["pedal"]) if depth else priors["pedal"])
    level_model = _Model(level_prior(levels)) if levels > PEDAL_ON_OFF else None
    for c, gaps in sym.pedals.items():
        direct = np.minimum(gaps, DIRECT)
        gap_ctx = gap_contexts(gaps, sym.depth[c]) if depth else pedal_contexts(gaps)
        gap_w = pedal_model.rows(gap_ctx, direct)
        if level_model is None:
            plan.append(("pedal", direct, gap_w))
        else:  # each event's level, then its gap; level rows padded with zeros to the gap alphabet
            level, level_ctx = level_symbols(sym.depth[c], levels)
            symbols = np.empty(2 * len(gaps), np.int64)
            symbols[0::2], symbols[1::2] = level, direct
            weights = np.zeros((2 * len(gaps), DIRECT + 1))
            weights[0::2, : levels - 1] = level_model.rows(level_ctx, level)
            weights[1::2] = gap_w
            plan.append(("pedal", symbols, weights))
        plan.append(("pedal", *escapes(gaps, ESCAPE_PEDAL)))
    return plan


def _coded_pedal_plan(sym: Symbols, s: NoteSetting,
                      priors: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """PEDAL_CODING: per pedal each event's gap then its level (level rows padded with zeros to the gap alphabet),
    then the pedal's escapes; one gap model, one level model and one escape model of its own (the bundle's `escape`
    prior, pedal context) serve every pedal."""
    tables = pedal_priors(s)
    if tables is None:
        raise ValueError(f"pedal coding {PEDAL_CODING} has no prior for the note setting {s}")
    levels = s.pedal_levels
    gap_model, escape = _Model(tables[0], cached=False), _Model(priors["escape"])
    level_model = _Model(tables[1], cached=False) if levels > PEDAL_ON_OFF else None
    plan = []
    for c, gaps in sym.pedals.items():
        gap_ctx, direct, level_ctx, level = pedal_streams(c, gaps, sym.depth[c], levels)
        gap_w = gap_model.rows(gap_ctx, direct)
        if level_model is None:
            plan.append(("pedal", direct, gap_w))
        else:
            symbols = np.empty(2 * len(gaps), np.int64)
            symbols[0::2], symbols[1::2] = direct, level
            weights = np.zeros((2 * len(gaps), DIRECT + 1))
            weights[0::2] = gap_w
            weights[1::2, : levels - 1] = level_model.rows(level_ctx, level)
            plan.append(("pedal", symbols, weights))
        plan.append(("pedal", *_gamma(_excess(gaps), escape, ESCAPE_PEDAL)))
    return plan


def pedal_coding_pays(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray]) -> bool:
    """Whether the encoder codes sym's pedals with PEDAL_CODING (NC07 for NC05, NC08 for NC06): when setting s has its
    tables and the pedals alone (no notes) code to fewer bytes under it than under NC05. Measured by the ideal code
    length of the gap and level symbols (`_Model.ideal_bits`: sorts, not the coder's [n, 129] rows; the escapes cost
    the same in both) and its head byte, and by coding both only when that is within CLOSE_BITS of a tie."""
    tables = pedal_priors(s)
    if not sym.pedals or tables is None:
        return False
    levels = s.pedal_levels
    old: dict[str, list[np.ndarray]] = {"gap_ctx": [], "gap": [], "level_ctx": [], "level": []}
    new: dict[str, list[np.ndarray]] = {k: [] for k in old}
    for c, gaps in sym.pedals.items():
        level, level_ctx = level_symbols(sym.depth[c], levels)
        for part, arrays in ((old, (gap_contexts(gaps, sym.depth[c]), np.minimum(gaps, DIRECT), level_ctx, level)),
                             (new, pedal_streams(c, gaps, sym.depth[c], levels))):
            for key, a in zip(part, arrays, strict=True):
                part[key].append(a)

    def bits(part: dict[str, list[np.ndarray]], gap: np.ndarray, level: np.ndarray, cached: bool) -> float:
        a = {k: np.concatenate(v) for k, v in part.items()}
        out = _Model(gap, cached).ideal_bits(a["gap_ctx"], a["gap"])
        if levels > PEDAL_ON_OFF:
            out += _Model(level, cached).ideal_bits(a["level_ctx"], a["level"])
        return out

    gain = bits(old, gap_prior(priors["pedal"]), level_prior(levels), True) - bits(new, *tables, False)
    if abs(gain - 8 * _PEDAL_CODING.size) > CLOSE_BITS:
        return gain > 8 * _PEDAL_CODING.size
    empty = np.zeros(0, np.int64)
    alone = Symbols(empty, empty, empty, empty, sym.pedals, sym.depth)
    return len(encode(alone, s, priors, NC07)) < len(encode(alone, s, priors, NOTE_CODING))


def pedal_coded(coding: bytes, pays: bool) -> bytes:
    """The coding to write for notes coded `coding` (NC05 or NC06): its PEDAL_CODED twin where `pedal_coding_pays`."""
    return PEDAL_CODED[coding] if pays else coding


def lanes_for(n_notes: int) -> int:
    """The lanes the encoder gives a piece of n_notes notes under NC06."""
    return int(min(max(n_notes // LANE_NOTES, 1), MAX_LANES))


def _layout(s: NoteSetting) -> neural.Layout:
    return neural.Layout(s.velocity_levels, s.duration_levels)


def _steps(bounds: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per step t: (t, the lanes still that long, the note each of them codes), lanes in order."""
    lengths = np.diff(bounds)
    out = []
    for t in range(int(lengths.max(initial=0))):
        lanes = np.flatnonzero(lengths > t)
        out.append((t, lanes, bounds[lanes] + t))
    return out


def _plan_nc06(sym: Symbols, s: NoteSetting, net: neural.Prior, lanes: int,
               escape: _Model) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """NC06's note streams in decoding order: per step of pass A the lanes' gaps, pitches, velocities (rows padded
    to the gap alphabet); the onsets' escapes; per step of pass B the lanes' durations."""
    n = len(sym.gap)
    bounds = neural.lane_bounds(n, lanes)
    layout = _layout(s)
    a = neural.inputs_a(sym.gap, sym.pitch, sym.velocity, bounds, layout, _LaneMatcher)
    plan: list[tuple[str, np.ndarray, np.ndarray]] = []
    width = DIRECT + 1
    if n:
        w: dict[str, list[np.ndarray]] = {"gap": [], "pitch": [], "velocity": []}
        for c in range(0, n, neural.RUN_ROWS):
            at = slice(c, c + neural.RUN_ROWS)
            hidden, lg = net.run("gap", a.gap[at])
            rel_index, onehot = neural.pitch_extras(a.ref[at], a.match_pitch[at])
            _, lp = net.run("pitch", a.pitch[at], hidden, rel_index, onehot, a.bucket[at])
            _, lv = net.run("velocity", a.velocity[at], hidden)
            for g, lo in (("gap", lg), ("pitch", lp), ("velocity", lv)):
                w[g].append(net.softmax(g, lo))
        x = {"gap": np.minimum(sym.gap, DIRECT), "pitch": sym.pitch, "velocity": sym.velocity}
        weights = {g: net.known_weights(g, np.concatenate(parts), x[g], bounds) for g, parts in w.items()}
        for _, _, notes in _steps(bounds):
            for g, stream in (("gap", "onset"), ("pitch", "pitch"), ("velocity", "velocity")):
                plan.append((stream, x[g][notes], _pad(weights[g][notes], width)))
    plan.append(("onset", *_gamma(_excess(sym.gap), escape, ESCAPE_ONSET)))
    if n:
        next_on, next_same = next_tokens(sym.gap, sym.pitch)
        rows = neural.inputs_b(sym.gap, sym.pitch, sym.velocity, sym.duration, next_on, next_same, a.match_at,
                               bounds, layout)
        wd = np.concatenate([net.softmax("duration", net.run("duration", rows[c : c + neural.RUN_ROWS])[1])
                             for c in range(0, n, neural.RUN_ROWS)])
        wd = net.known_weights("duration", wd, sym.duration, bounds).astype(np.float64)
        for _, _, notes in _steps(bounds):
            plan.append(("duration", sym.duration[notes], wd[notes]))
    return plan


def _pad(w: np.ndarray, width: int) -> np.ndarray:
    """Integer weights [n, K] as float64 rows of `width` columns, zeros after K (what rANS is given)."""
    out = np.zeros((len(w), width))
    out[:, : w.shape[1]] = w
    return out


def stream_bits(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray], coding: bytes = NOTE_CODING,
                net: neural.Prior | None = None, lanes: int | None = None) -> dict[str, float]:
    """Ideal code length in bits of each stream (onset, pitch, velocity, duration, pedal): where the bytes go."""
    bits = dict.fromkeys(("onset", "pitch", "velocity", "duration", "pedal"), 0.0)
    lanes = lanes_for(len(sym.gap)) if lanes is None else lanes
    for name, symbols, weights in _plan(sym, s, priors, coding, net, lanes):
        if len(symbols):
            p = weights[np.arange(len(symbols)), symbols] / weights.sum(axis=1)
            bits[name] += float(-np.log2(p).sum())
    return bits


def encode(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray], coding: bytes = NOTE_CODING,
           net: neural.Prior | None = None, lanes: int | None = None) -> bytes:
    """The NOTE section payload of one piece at setting s, with the bundle's priors for s (and for NC06 its neural
    prior; lanes: `lanes_for` the piece unless given, 1..MAX_LANES)."""
    c = _family()
    family = c.stream.model.Categorical(perfect=False)
    coder = c.stream.stack.AnsCoder()
    lanes = lanes_for(len(sym.gap)) if lanes is None else lanes
    if not 1 <= lanes <= MAX_LANES:
        raise ValueError(f"lanes must be in 1..{MAX_LANES}, got {lanes}")
    if coding in NEURAL_CODINGS and net is None:
        raise ValueError(f"coding {coding.decode()} needs the bundle's neural prior")
    for _, symbols, weights in reversed(_plan(sym, s, priors, coding, net, lanes)):
        if len(symbols):
            coder.encode_reverse(symbols.astype(np.int32), family, weights)
    words = coder.get_compressed().astype("<u4").tobytes()
    events = len(sym.gap) + sum(len(g) for g in sym.pedals.values())
    if not _plausible(events, len(words)):
        raise LimitError(f"{events} notes and pedal transitions code to {len(words)} bytes: too repetitive to store "
                         f"(a decoder refuses more than {NOTES_PER_BYTE} events per byte)")
    head = _HEAD.pack(coding, s.grid_ms, s.velocity_step, s.duration_milli, len(sym.pedals))
    head += _LEVELS.pack(s.pedal_levels) if coding in DEPTH_CODINGS else b""
    head += _LANES.pack(lanes) if coding in NEURAL_CODINGS else b""
    head += _PEDAL_CODING.pack(PEDAL_CODING) if coding in PEDAL_CODED.values() else b""
    head += b"".join(_PEDAL.pack(n, len(g)) for n, g in sym.pedals.items())
    return head + _U32.pack(_symbols_crc(sym, coding)) + words


def _plausible(events: int, word_bytes: int) -> bool:
    """Whether a stream of word_bytes may hold `events` notes and pedal transitions (see NOTES_PER_BYTE)."""
    return events <= FREE_EVENTS + NOTES_PER_BYTE * word_bytes


def _excess(gaps: np.ndarray) -> np.ndarray:
    """(gap - DIRECT) of every escaped gap; LimitError when one does not fit ESCAPE_BYTES."""
    big = gaps[gaps >= DIRECT] - DIRECT
    if big.size and big.max() >= 1 << (8 * ESCAPE_BYTES):
        raise LimitError(f"a gap of {int(big.max()) + DIRECT} grid steps is over the limit")
    return big


def _escapes(gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NC02/NC03: raw little-endian bytes of (gap - DIRECT) for every escaped gap, coded uniformly."""
    raw = np.frombuffer(_excess(gaps).astype("<u4").tobytes(), np.uint8).astype(np.int64)
    return raw, np.ones((len(raw), 256))


def bit_lengths(values: np.ndarray) -> np.ndarray:
    """Each value's bit length (0 for 0): the symbol NC04's escapes (and midi-vq's corrections) code first."""
    return np.array([int(v).bit_length() for v in values], np.int64)


def _uniform(bits: int) -> np.ndarray:
    """Weights of a uniform symbol of `bits` bits, padded to the 256 columns every escape row has."""
    w = np.zeros((1, 256))
    w[0, : 1 << bits] = 1
    return w


def low_bits(v: int, n: int) -> tuple[list[int], list[np.ndarray]]:
    """The n - 1 bits of v (of bit length n) below its leading one, ESCAPE_CHUNK at a time, low first, with their
    uniform weight rows [1, 256]: what follows an escape's bit length."""
    symbols, weights = [], []
    for shift in range(0, max(n - 1, 0), ESCAPE_CHUNK):
        bits = min(ESCAPE_CHUNK, n - 1 - shift)
        symbols.append(v >> shift & ((1 << bits) - 1))
        weights.append(_uniform(bits))
    return symbols, weights


def read_low_bits(one: Callable[[np.ndarray], int], n: int) -> int:
    """The value of bit length n whose low bits low_bits wrote: its leading one, then the bits `one` decodes."""
    v = 1 << (n - 1) if n else 0
    for shift in range(0, max(n - 1, 0), ESCAPE_CHUNK):
        v |= one(_uniform(min(ESCAPE_CHUNK, n - 1 - shift))) << shift
    return v


def _gamma(excess: np.ndarray, model: _Model, ctx: int) -> tuple[np.ndarray, np.ndarray]:
    """NC04: each excess as its bit length n (under `model` in context ctx), then its n - 1 low bits in chunks of
    ESCAPE_CHUNK, low first, uniform; every row padded to 256 columns."""
    lengths = bit_lengths(excess)
    length_w = model.rows(np.full(len(excess), ctx, np.int64), lengths)
    symbols, weights = [], []
    for v, n, w in zip(excess.tolist(), lengths.tolist(), length_w):
        symbols.append(n)
        weights.append(np.pad(w, (0, 256 - len(w)))[None])
        low, uniform = low_bits(v, n)
        symbols += low
        weights += uniform
    return np.array(symbols, np.int64), np.concatenate(weights) if weights else np.zeros((0, 256))


def _table_at(coding: bytes) -> int:
    """Where a NOTE payload's pedal table starts: after the head, in NC05 to NC08 its pedal level count, in NC06 and
    NC08 its lane count, in NC07 and NC08 its pedal coding."""
    return (_HEAD.size + (_LEVELS.size if coding in DEPTH_CODINGS else 0) + (_LANES.size if coding in NEURAL_CODINGS
            else 0) + (_PEDAL_CODING.size if coding in PEDAL_CODED.values() else 0))


def payload_head_size(n_pedals: int, coding: bytes = NOTE_CODING) -> int:
    """Bytes before the rANS words in a NOTE payload of a coding with n_pedals pedal streams."""
    return _table_at(coding) + n_pedals * _PEDAL.size + _U32.size


def setting_of(payload: bytes, name: str) -> tuple[NoteSetting, dict[int, int]]:
    """The setting and {controller: transitions} a NOTE payload declares (checked against the limits)."""
    if len(payload) < _HEAD.size:
        raise TruncatedError(f"{name}: NOTE section is {len(payload)} bytes, shorter than its header")
    coding, grid, vstep, dmilli, n_pedals = _HEAD.unpack_from(payload)
    if coding not in CODINGS:
        raise FormatError(f"{name}: NOTE coding {coding!r} is not one this version reads "
                          f"({' or '.join(map(repr, CODINGS))})")
    at = _table_at(coding)
    if len(payload) < at:
        raise TruncatedError(f"{name}: NOTE section is {len(payload)} bytes, shorter than its header")
    levels = _LEVELS.unpack_from(payload, _HEAD.size)[0] if coding in DEPTH_CODINGS else PEDAL_ON_OFF
    try:
        s = NoteSetting(grid, vstep, dmilli, levels)
    except ValueError as e:
        raise FormatError(f"{name}: {e}") from None
    if coding in PEDAL_CODED.values():
        (pedal_coding,) = _PEDAL_CODING.unpack_from(payload, at - _PEDAL_CODING.size)
        if pedal_coding != PEDAL_CODING:
            raise FormatError(f"{name}: NOTE pedal coding {pedal_coding} is not one this version reads "
                              f"({PEDAL_CODING})")
        if pedal_priors(s) is None:
            raise FormatError(f"{name}: NOTE pedal coding {pedal_coding} has no prior for the note setting {s}")
    if n_pedals > MAX_PEDALS or len(payload) < payload_head_size(n_pedals, coding):
        raise FormatError(f"{name}: NOTE section declares {n_pedals} pedals it does not hold")
    pedals: dict[int, int] = {}
    for i in range(n_pedals):
        number, n = _PEDAL.unpack_from(payload, at + i * _PEDAL.size)
        if number > MIDI_MAX or number in pedals or n > MAX_NOTES:
            raise FormatError(f"{name}: NOTE pedal {number} with {n} transitions is invalid or repeated")
        pedals[number] = n
    return s, pedals


def decode(payload: bytes, n_notes: int, priors: dict[str, np.ndarray], name: str,
           net: neural.Prior | None = None) -> tuple[Symbols, NoteSetting]:
    """NOTE payload -> symbols (NC06 with the bundle's neural prior `net`); FormatError or ChecksumError when the
    stream is damaged."""
    s, pedal_counts = setting_of(payload, name)
    coding = bytes(payload[:4])
    for key, shape in s.streams(coding).items():
        if key not in priors or priors[key].shape != shape:
            raise FormatError(f"{name}: the model's {key} prior does not fit the file's note setting {s}")
    if n_notes > MAX_NOTES:
        raise LimitError(f"{name}: {n_notes} notes, over the limit {MAX_NOTES}")
    pos = payload_head_size(len(pedal_counts), coding)
    (crc,) = _U32.unpack_from(payload, pos - _U32.size)
    words = payload[pos:]
    c = _family()
    if len(words) % 4:
        raise FormatError(f"{name}: NOTE stream is not whole 32-bit words")
    if not _plausible(n_notes + sum(pedal_counts.values()), len(words)):
        raise FormatError(f"{name}: NOTE stream of {len(words)} bytes cannot hold {n_notes} notes and "
                          f"{sum(pedal_counts.values())} pedal transitions")
    try:
        coder = c.stream.stack.AnsCoder(np.frombuffer(words, "<u4").astype(np.uint32))
    except ValueError:
        raise FormatError(f"{name}: NOTE stream is damaged") from None
    family = c.stream.model.Categorical(perfect=False)
    uniform = np.ones((1, 256))

    def one(weights: np.ndarray) -> int:
        return int(coder.decode(family, weights)[0])

    escape = _Model(priors["escape"]) if _gamma_escapes(coding) else None
    pad = np.zeros((1, 256))

    def escaped(values: np.ndarray, ctx: int, model: _Model | None = None) -> np.ndarray:
        """values with their escapes read, under `model` (default: the onsets' escape model)."""
        big = np.flatnonzero(values == DIRECT)
        out = values.copy()
        model = escape if model is None else model
        if model is None:
            raw = np.array([one(uniform) for _ in range(len(big) * ESCAPE_BYTES)], np.uint8)
            out[big] += np.frombuffer(raw.tobytes(), "<u4").astype(np.int64)
            return out
        for i in big:
            pad[0, :ESCAPE_LENGTHS] = model.weights(ctx)[0]
            n = one(pad)
            if n >= ESCAPE_LENGTHS:  # a damaged stream can land on a zero-weight symbol (found by fuzzing)
                raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (an escape of {n} bits)")
            model.update(ctx, n)
            out[i] += read_low_bits(one, n)
        return out

    n = n_notes
    if coding in NEURAL_CODINGS:
        lanes = _LANES.unpack_from(payload, _HEAD.size + _LEVELS.size)[0]
        if not 1 <= lanes <= MAX_LANES or lanes > max(n, 1):
            raise FormatError(f"{name}: NOTE declares {lanes} lanes for {n} notes")
        if net is None or net.layout != _layout(s):
            raise FormatError(f"{name}: NOTE coding {coding.decode()} needs a neural prior for the note setting {s}, "
                              "which the model does not have")

        def rows(weights: np.ndarray) -> np.ndarray:
            return coder.decode(family, weights).astype(np.int64)

        gap, streams = _decode_nc06(rows, n, lanes, s, net, escaped, name)
    else:
        gap = np.zeros(n, np.int64)
        m = _Model(priors["onset"])
        b1 = b2 = 0
        for i in range(n):
            ctx = b1 * N_GAP + b2
            gap[i] = one(m.weights(ctx))
            m.update(ctx, int(gap[i]))
            b1, b2 = _bucket(int(gap[i])), b1
        gap = escaped(gap, ESCAPE_ONSET)
        chord = (gap == 0).astype(np.int64)
        streams = (_decode_nc02(one, n, chord, s, priors) if coding == NC02
                   else _decode_nc03(one, gap, chord, s, priors, name))
    if coding in PEDAL_CODED.values():
        pedal_escape = _Model(priors["escape"])
        pedals, depth = _decode_coded_pedals(one, pedal_counts, s, lambda g: escaped(g, ESCAPE_PEDAL, pedal_escape),
                                             name)
    else:
        pedals, depth = _decode_pedals(one, pedal_counts, s, coding, priors, lambda g: escaped(g, ESCAPE_PEDAL), name)
    sym = Symbols(gap, streams["pitch"], streams["velocity"], streams["duration"], pedals, depth)
    if not coder.is_empty() or _symbols_crc(sym, coding) != crc:
        raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (damaged, or another prior)")
    return sym, s


def _decode_pedals(one: Callable[[np.ndarray], int], pedal_counts: dict[int, int], s: NoteSetting, coding: bytes,
                   priors: dict[str, np.ndarray], escaped: Callable[[np.ndarray], np.ndarray],
                   name: str) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """NC02 to NC06's pedals: per pedal each event's level (NC05 and NC06, more than 2 levels), then its gap, then the
    pedal's escapes (`escaped`)."""
    pedals, depth = {}, {}
    nc05 = coding in DEPTH_CODINGS
    m = _Model(gap_prior(priors["pedal"]) if nc05 else priors["pedal"])
    levels = s.pedal_levels
    level_model = _Model(level_prior(levels)) if levels > PEDAL_ON_OFF else None
    level_pad = np.zeros((1, DIRECT + 1))
    for number, count_ in pedal_counts.items():
        gaps = np.zeros(count_, np.int64)
        depth[number] = on_off_levels(count_)
        prev_b = press = level = last_change = 0
        for i in range(count_):
            pressed = press
            if level_model is not None:
                ctx = _level_context(level, last_change, levels)
                level, last_change = _next_level(one, level_model, ctx, level, levels, level_pad, name)
                depth[number][i] = level
                press = int(last_change > 0)
            else:
                press = 1 - i % 2
            ctx = ((press * 2 + (press == pressed)) * N_GAP if nc05 else press * N_GAP) + prev_b
            gaps[i] = one(m.weights(ctx))
            m.update(ctx, int(gaps[i]))
            prev_b = _bucket(int(gaps[i]))
        pedals[number] = escaped(gaps)
    return pedals, depth


def _next_level(one: Callable[[np.ndarray], int], model: _Model, ctx: int, level: int, levels: int,
                pad: np.ndarray, name: str) -> tuple[int, int]:
    """Decoder: a pedal's next level after `level`, from its level symbol in context ctx (`pad` [1, DIRECT + 1]
    holds the model's weights, zero beyond them), and the change from `level`."""
    pad[0, : levels - 1] = model.weights(ctx)[0]
    step = one(pad)
    if step >= levels - 1:  # a zero-weight symbol: only a damaged stream gets here
        raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (a pedal level)")
    model.update(ctx, step)
    change = (level + step + 1) % levels - level
    return level + change, change


def _decode_coded_pedals(one: Callable[[np.ndarray], int], pedal_counts: dict[int, int], s: NoteSetting,
                         escaped: Callable[[np.ndarray], np.ndarray],
                         name: str) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """PEDAL_CODING's pedals (NC07, NC08): per pedal each event's gap then its level, then the pedal's escapes
    (`escaped`); the contexts `pedal_streams` gives the encoder, one event at a time."""
    tables = pedal_priors(s)
    assert tables is not None  # setting_of refuses a setting without tables
    levels = s.pedal_levels
    gap_model = _Model(tables[0], cached=False)
    level_model = _Model(tables[1], cached=False) if levels > PEDAL_ON_OFF else None
    level_pad = np.zeros((1, DIRECT + 1))
    pedals, depth = {}, {}
    for number, count_ in pedal_counts.items():
        sustain = int(number == SUSTAIN)
        gaps = np.zeros(count_, np.int64)
        depth[number] = on_off_levels(count_)
        prev_b = press = before = level = last_change = 0
        for i in range(count_):
            where = 0 if level == 0 else 2 if level == levels - 1 else 1
            ctx = (((press * 2 + (press == before)) * 3 + where) * N_GAP + prev_b) * 2 + sustain
            g = one(gap_model.weights(ctx))
            gap_model.update(ctx, g)
            gaps[i], prev_b = g, _bucket(g)
            before = press
            if level_model is None:
                press = level = 1 - i % 2
                continue
            ctx = (_level_context(level, last_change, levels) * N_GAP + prev_b) * 2 + sustain
            level, last_change = _next_level(one, level_model, ctx, level, levels, level_pad, name)
            depth[number][i] = level
            press = int(last_change > 0)
        pedals[number] = escaped(gaps)
    return pedals, depth


def _decode_nc02(one: Callable[[np.ndarray], int], n: int, chord: np.ndarray, s: NoteSetting,
                 priors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """NC02's pitch, velocity and duration streams, each in turn."""
    streams = {}
    for key, first in (("pitch", START_PITCH), ("velocity", round(64 / s.velocity_step)), ("duration", 0)):
        m = _Model(priors[key])
        out = np.zeros(n, np.int64)
        prev = first
        for i in range(n):
            ctx = (int(s.duration_context(prev)) if key == "duration" else prev) * 2 + int(chord[i])
            prev = out[i] = one(m.weights(ctx))
            m.update(ctx, prev)
        streams[key] = out
    return streams


def decode_pitches(one: Callable[[np.ndarray], int], chord: np.ndarray, priors: dict[str, np.ndarray],
                   name: str) -> np.ndarray:
    """NC03's pitch part: per note the match flag (when the match model predicts), then the pitch unless the flag
    hit; `one` decodes a symbol under weights, `chord` is each note's chord flag (zeros where there is none)."""
    n = len(chord)
    pitch = np.zeros(n, np.int64)
    hits, misses, matcher = _Model(priors["pitch_hit"]), _Model(priors["pitch_miss"]), _Matcher()
    pad = np.zeros((1, MIDI_MAX + 1))
    prev = START_PITCH
    for i in range(n):
        ch = int(chord[i])
        pred, length = matcher.predict()
        hit = 0
        if pred >= 0:
            ctx = int(_hit_context(length, ch))
            pad[0, :2] = hits.weights(ctx)[0]
            hit = one(pad)
            if hit > 1:
                raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (a match flag of {hit})")
            hits.update(ctx, hit)
        if hit:
            prev = pred
        else:
            ctx = prev * 2 + ch
            prev = one(misses.weights(ctx))
            misses.update(ctx, prev)
        pitch[i] = prev
        matcher.add(prev)
    return pitch


def _decode_nc03(one: Callable[[np.ndarray], int], gap: np.ndarray, chord: np.ndarray, s: NoteSetting,
                 priors: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """NC03's pitches (match flag, then the pitch unless the flag hit), velocities, then durations."""
    n = len(gap)
    pitch = decode_pitches(one, chord, priors, name)
    velocity = np.zeros(n, np.int64)
    m = _Model(priors["velocity_near"])
    first = prev = round(64 / s.velocity_step)
    for i in range(n):
        near = _near_velocity(pitch, velocity, i, first)
        ctx = int(_velocity_context(prev * 2 + int(chord[i]), near, int(pitch[i]),
                                    int(pitch[i - 1]) if i else START_PITCH, s))
        prev = velocity[i] = one(m.weights(ctx))
        m.update(ctx, prev)
    nexts = _next_buckets(np.cumsum(gap), pitch)
    duration = np.zeros(n, np.int64)
    m = _Model(priors["duration_next"])
    prev = 0
    for i in range(n):
        ctx = int(_duration_context(int(nexts[i]), prev, s))
        prev = duration[i] = one(m.weights(ctx))
        m.update(ctx, prev)
    return {"pitch": pitch, "velocity": velocity, "duration": duration}


def _decode_nc06(rows: Callable[[np.ndarray], np.ndarray], n: int, lanes: int, s: NoteSetting, net: neural.Prior,
                 escaped: Callable[[np.ndarray, int], np.ndarray],
                 name: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """NC06's note streams: pass A step by step (every lane's gap, then pitch, then velocity, one graph run each),
    the onsets' escapes, then pass B (every lane's duration per step). `rows` decodes one symbol per weight row."""
    layout = _layout(s)
    bounds = neural.lane_bounds(n, lanes)
    state = neural.PassA(np.diff(bounds), layout, _LaneMatcher)
    gap, pitch, velocity, duration = (np.zeros(n, np.int64) for _ in range(4))
    width = DIRECT + 1
    recent = {g: net.recent(g, lanes) for g in neural.GRAPHS}

    def decoded(g: str, t: int, act: np.ndarray, logits: np.ndarray, alphabet: int) -> np.ndarray:
        w = net.weights(g, net.softmax(g, logits), recent[g], act)
        x = rows(_pad(w, width) if w.shape[1] < width else w.astype(np.float64))
        if x.max(initial=0) >= alphabet:  # a zero-weight symbol: only a damaged stream gets here
            raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (a {g} of {x.max()})")
        recent[g].push(t, act, x)
        return x

    for t, act, notes in _steps(bounds):
        hidden, logits = net.run("gap", state.gap_inputs(t, act))
        g = decoded("gap", t, act, logits, width)
        prow, ref, mp, mb = state.pitch_inputs(t, act, g)
        rel_index, onehot = neural.pitch_extras(ref, mp)
        p = decoded("pitch", t, act, net.run("pitch", prow, hidden, rel_index, onehot, mb)[1], MIDI_MAX + 1)
        v = decoded("velocity", t, act, net.run("velocity", state.velocity_inputs(t, act, g, p), hidden)[1],
                    s.velocity_levels)
        state.push(t, act, g, p, v)
        gap[notes], pitch[notes], velocity[notes] = g, p, v
    gap = escaped(gap, ESCAPE_ONSET)
    next_on, next_same = next_tokens(gap, pitch)
    b = neural.PassB(gap, pitch, velocity, next_on, next_same, state.match_of(bounds), bounds, layout)
    for t, act, notes in _steps(bounds):
        logits = net.run("duration", b.inputs(notes))[1]
        d = rows(net.weights("duration", net.softmax("duration", logits), recent["duration"], act).astype(np.float64))
        recent["duration"].push(t, act, d)
        b.push(notes, d)
        duration[notes] = d
    return gap, {"pitch": pitch, "velocity": velocity, "duration": duration}
