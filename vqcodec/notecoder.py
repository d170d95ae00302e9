"""Piano performances <-> the bytes of a NOTE section: pitch exact, onsets on an absolute grid, velocity and
duration quantised, pedals as on/off transitions; every stream coded with adaptive context models and rANS.

Onsets are rounded to a grid of `grid_ms` in absolute time, so the error is at most grid/2 at every note from
the first to the last and never accumulates; what is coded is the difference of grid steps between notes.
Each stream's symbol is coded under an adaptive model: the probability of symbol k in context c is
proportional to N[c, k] * COUNT_WEIGHT + Q[c, k] + a share for k's occurrences among the stream's last
CACHE_WINDOW symbols, Q the bundle's prior for the setting (counts over the train split, see
training/note_priors.py) and N what this piece has coded so far. All integer, so every machine builds the same
model (the rule of vqcodec.entropy). Layout: docs/FORMAT.md, section NOTE.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from vqcodec.entropy import COUNT_WEIGHT, prior_weights
from vqcodec.errors import ChecksumError, FormatError, LimitError, TruncatedError
from vqcodec.notes import MIDI_MAX, Pedal, Performance

CODING = b"NC02"
"""Names this scheme in the NOTE section; another scheme gets another name."""
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
"""Grid steps coded as one symbol; larger gaps are the escape symbol DIRECT and ESCAPE_BYTES raw bytes."""
ESCAPE_BYTES = 4
DURATION_FLOOR = 0.01
"""Seconds: duration level 0; level q is DURATION_FLOOR * ratio**q."""
DURATION_CEILING = 100.0
"""Seconds: the longest duration a level stands for (longer notes end there; the report measures it)."""
DURATION_CONTEXTS = 64
"""The previous duration level, scaled to this many buckets, is the duration stream's context."""
PEDAL_DOWN = 64
"""Controller values >= this are 'down' (MIDI's own convention for on/off controllers)."""
PEDAL_VALUES = (0, 127)
"""Values written for up and down."""
START_PITCH = 60
GAP_EDGES = np.array([1, 2, 3, 5, 9, 17, 33])
"""Buckets of a gap in grid steps, for contexts: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, 33+."""
N_GAP = len(GAP_EDGES) + 1
CACHE_WINDOW = 32
"""Symbols each stream's recency cache holds."""
CACHE_SHARE_DIV = 2
"""The cache adds 1/CACHE_SHARE_DIV of the context's weight, spread over the CACHE_WINDOW symbols it holds."""
_CHUNK = 4096  # positions whose adaptive probabilities the encoder builds at once
_HEAD = struct.Struct("<4sHBHB")  # coding, grid_ms, velocity_step, duration_milli, n_pedals
_PEDAL = struct.Struct("<BI")  # controller, transitions
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class NoteSetting:
    """How much each field may move: onsets and pedal times <= grid_ms/2, velocity <= velocity_step/2,
    duration by a factor <= sqrt(duration_milli/1000)."""

    grid_ms: int
    velocity_step: int
    duration_milli: int

    def __post_init__(self) -> None:
        if not (1 <= self.grid_ms <= 1000 and 1 <= self.velocity_step <= 64 and 1001 <= self.duration_milli <= 4000):
            raise ValueError(f"note setting out of range: {self}")

    @property
    def velocity_levels(self) -> int:
        return MIDI_MAX // self.velocity_step + 2

    @property
    def duration_levels(self) -> int:
        """Levels from DURATION_FLOOR up to DURATION_CEILING at this ratio."""
        return math.ceil(math.log(DURATION_CEILING / DURATION_FLOOR) / math.log(self.duration_milli / 1000)) + 1

    def duration_context(self, level: np.ndarray) -> np.ndarray:
        """The bucket of a duration level used as context (levels scaled to DURATION_CONTEXTS)."""
        return np.asarray(level, np.int64) * DURATION_CONTEXTS // self.duration_levels

    def streams(self) -> dict[str, tuple[int, int]]:
        """Each stream's (contexts, alphabet): the shapes of the prior tables."""
        return {"onset": (N_GAP * N_GAP, DIRECT + 1), "pitch": (2 * (MIDI_MAX + 1), MIDI_MAX + 1),
                "velocity": (2 * self.velocity_levels, self.velocity_levels),
                "duration": (2 * DURATION_CONTEXTS, self.duration_levels), "pedal": (2 * N_GAP, DIRECT + 1)}


@dataclass
class Symbols:
    """One piece as the integers the coder codes, in decoding order; what `quantise` gives and `rebuild` reads."""

    gap: np.ndarray  # [N] onset grid steps since the previous note (the first: since 0)
    pitch: np.ndarray  # [N]
    velocity: np.ndarray  # [N] velocity levels
    duration: np.ndarray  # [N] duration levels
    pedals: dict[int, np.ndarray]  # controller -> [M] grid steps between transitions (down, up, down, ...)


def quantise(perf: Performance, s: NoteSetting) -> Symbols:
    """The integers of `perf` at setting s, notes sorted by (onset step, pitch)."""
    step = s.grid_ms / 1000
    on = np.floor(perf.onset / step + 0.5).astype(np.int64)
    order = np.lexsort((perf.pitch, on))
    on = on[order]
    dur = np.maximum(perf.offset - perf.onset, DURATION_FLOOR)[order]
    dq = np.floor(np.log(dur / DURATION_FLOOR) / np.log(s.duration_milli / 1000) + 0.5)
    vq = np.floor(perf.velocity[order] / s.velocity_step + 0.5)
    pedals = {}
    for number, p in sorted(perf.pedals.items()):
        down = (p.value >= PEDAL_DOWN).astype(np.int8)
        changes = np.flatnonzero(np.diff(down, prepend=0))  # alternate down, up, ... from the initial 'up'
        pedals[number] = np.diff(np.floor(p.time[changes] / step + 0.5).astype(np.int64), prepend=0)
    return Symbols(np.diff(on, prepend=0), perf.pitch[order].astype(np.int64), vq.astype(np.int64),
                   np.clip(dq, 0, s.duration_levels - 1).astype(np.int64), pedals)


def rebuild(sym: Symbols, s: NoteSetting) -> Performance:
    """The performance the symbols stand for (velocity at least 1, pedal values 0 and 127)."""
    step = s.grid_ms / 1000
    onset = np.cumsum(sym.gap) * step
    duration = DURATION_FLOOR * (s.duration_milli / 1000) ** sym.duration.astype(np.float64)
    velocity = np.clip(sym.velocity * s.velocity_step, 1, MIDI_MAX)
    pedals = {}
    for number, gaps in sym.pedals.items():
        values = np.array(PEDAL_VALUES, dtype=np.uint8)[(np.arange(len(gaps)) + 1) % 2]
        pedals[number] = Pedal(np.cumsum(gaps) * step, values)
    return Performance(sym.pitch, onset, onset + duration, velocity, pedals)


def _gap_bucket(g: np.ndarray) -> np.ndarray:
    return np.searchsorted(GAP_EDGES, g, side="right")


def _prev(a: np.ndarray, first: int, k: int = 1) -> np.ndarray:
    """a shifted right by k, padded with `first`."""
    return np.concatenate([np.full(min(k, len(a)), first, np.int64), a[: len(a) - k]])


def contexts(sym: Symbols, s: NoteSetting) -> dict[str, np.ndarray]:
    """Every note stream's context per position, from the symbols before it (what the decoder knows then)."""
    chord = (sym.gap == 0).astype(np.int64)
    gb = _gap_bucket(sym.gap)
    start_v = round(64 / s.velocity_step)
    return {"onset": _prev(gb, 0) * N_GAP + _prev(gb, 0, 2), "pitch": _prev(sym.pitch, START_PITCH) * 2 + chord,
            "velocity": _prev(sym.velocity, start_v) * 2 + chord,
            "duration": s.duration_context(_prev(sym.duration, 0)) * 2 + chord}


def pedal_contexts(gaps: np.ndarray) -> np.ndarray:
    """Context of each pedal gap: whether it ends in a press or a release, and the previous gap's bucket."""
    press = (np.arange(len(gaps)) % 2 == 0).astype(np.int64)
    return press * N_GAP + _prev(_gap_bucket(gaps), 0)


def stream_symbols(sym: Symbols) -> dict[str, np.ndarray]:
    """Each stream's coded symbols (gaps over DIRECT become the escape symbol)."""
    pedal = np.concatenate([g for g in sym.pedals.values()] or [np.zeros(0, np.int64)])
    return {"onset": np.minimum(sym.gap, DIRECT), "pitch": sym.pitch, "velocity": sym.velocity,
            "duration": sym.duration, "pedal": np.minimum(pedal, DIRECT)}


def count(sym: Symbols, s: NoteSetting) -> dict[str, np.ndarray]:
    """(context, symbol) counts of one piece per stream: what the training split's prior sums."""
    ctx = contexts(sym, s) | {"pedal": np.concatenate(
        [pedal_contexts(g) for g in sym.pedals.values()] or [np.zeros(0, np.int64)])}
    coded = stream_symbols(sym)
    out = {}
    for name, (n_ctx, k) in s.streams().items():
        table = np.zeros((n_ctx, k), np.int64)
        np.add.at(table, (ctx[name], coded[name]), 1)
        out[name] = table
    return out


class _Model:
    """The adaptive model of one stream: integer prior weights, what has been coded so far in each context, and
    a cache of the last CACHE_WINDOW symbols of the stream (music repeats its recent pitches, gaps, velocities
    and durations) that adds CACHE_SHARE of the context's weight to the symbols it holds."""

    def __init__(self, prior_counts: np.ndarray) -> None:
        self.prior = prior_weights(prior_counts[None])[0]
        self.prior_sum = self.prior.sum(axis=1)
        self.counts = np.zeros(self.prior.shape, np.int64)
        self.seen = np.zeros(len(self.prior), np.int64)  # symbols coded in each context
        self.history: list[int] = []  # the last CACHE_WINDOW symbols, oldest first
        self.recent = np.zeros(self.prior.shape[1], np.int64)

    def _mix(self, base: np.ndarray, base_sum: np.ndarray, recent: np.ndarray) -> np.ndarray:
        return (base + recent * (base_sum // (CACHE_WINDOW * CACHE_SHARE_DIV))[:, None]).astype(np.float64)

    def rows(self, ctx: np.ndarray, sym: np.ndarray) -> np.ndarray:
        """Encoder: the weights each position is coded with [n, K], then those symbols counted."""
        out = []
        k = self.prior.shape[1]
        for a in range(0, len(ctx), _CHUNK):
            c, x = ctx[a : a + _CHUNK], sym[a : a + _CHUNK]
            n = len(c)
            order = np.argsort(c, kind="stable")
            hot = np.zeros((n, k), np.int64)
            hot[np.arange(n), x] = 1
            before = np.cumsum(hot[order], axis=0) - hot[order]  # counts before each position, in sorted order
            first = np.flatnonzero(np.r_[True, np.diff(c[order]) != 0])
            before -= np.repeat(before[first], np.diff(np.r_[first, n]), axis=0)
            seen = np.empty_like(before)
            seen[order] = before
            counts = self.counts[c] + seen
            base = counts * COUNT_WEIGHT + self.prior[c]
            base_sum = (self.seen[c] + seen.sum(axis=1)) * COUNT_WEIGHT + self.prior_sum[c]
            h = len(self.history)
            window = np.concatenate([np.array(self.history, np.int64), x])  # position i's cache: window[i+h-W : i+h]
            cum = np.zeros((len(window) + 1, k), np.int64)
            cum[1:] = np.cumsum(np.eye(k, dtype=np.int64)[window], axis=0)
            end = np.arange(n) + h
            recent = cum[end] - cum[np.maximum(end - CACHE_WINDOW, 0)]
            out.append(self._mix(base, base_sum, recent))
            np.add.at(self.counts, (c, x), 1)
            np.add.at(self.seen, c, 1)
            self.history = window[-CACHE_WINDOW:].tolist()
        self.recent = np.bincount(np.array(self.history, np.int64), minlength=k).astype(np.int64)
        return np.concatenate(out) if out else np.zeros((0, k))

    def weights(self, c: int) -> np.ndarray:
        """Decoder: the weights of the next symbol in context c [1, K]."""
        base = self.counts[c] * COUNT_WEIGHT + self.prior[c]
        base_sum = np.array([self.seen[c] * COUNT_WEIGHT + self.prior_sum[c]])
        return self._mix(base[None], base_sum, self.recent[None])

    def update(self, c: int, x: int) -> None:
        """Decoder: count symbol x, coded in context c, and move it into the cache."""
        self.counts[c, x] += 1
        self.seen[c] += 1
        self.recent[x] += 1
        self.history.append(x)
        if len(self.history) > CACHE_WINDOW:
            self.recent[self.history.pop(0)] -= 1


def _family():  # noqa: ANN202 - constriction is imported lazily, like vqcodec.entropy does
    import constriction

    return constriction


def _symbols_crc(sym: Symbols) -> int:
    parts = [sym.gap, sym.pitch, sym.velocity, sym.duration, *sym.pedals.values()]
    return zlib.crc32(b"".join(np.asarray(p, "<i8").tobytes() for p in parts))


def _plan(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(stream, symbols, weights) in decoding order: onsets and their escapes, pitch, velocity, duration, then
    each pedal's gaps and escapes."""
    if len(sym.gap) > MAX_NOTES or len(sym.pedals) > MAX_PEDALS or any(len(g) > MAX_NOTES for g in sym.pedals.values()):
        raise LimitError(f"more than {MAX_NOTES} notes or pedal transitions, or {MAX_PEDALS} pedals")
    coded = stream_symbols(sym)
    ctx = contexts(sym, s)
    plan = []
    for name in ("onset", "pitch", "velocity", "duration"):
        plan.append((name, coded[name], _Model(priors[name]).rows(ctx[name], coded[name])))
        if name == "onset":
            plan.append((name, *_escapes(sym.gap)))
    pedal_model = _Model(priors["pedal"])
    for gaps in sym.pedals.values():
        direct = np.minimum(gaps, DIRECT)
        plan += [("pedal", direct, pedal_model.rows(pedal_contexts(gaps), direct)), ("pedal", *_escapes(gaps))]
    return plan


def stream_bits(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray]) -> dict[str, float]:
    """Ideal code length in bits of each stream (onset, pitch, velocity, duration, pedal): where the bytes go."""
    bits = dict.fromkeys(("onset", "pitch", "velocity", "duration", "pedal"), 0.0)
    for name, symbols, weights in _plan(sym, s, priors):
        if len(symbols):
            p = weights[np.arange(len(symbols)), symbols] / weights.sum(axis=1)
            bits[name] += float(-np.log2(p).sum())
    return bits


def encode(sym: Symbols, s: NoteSetting, priors: dict[str, np.ndarray]) -> bytes:
    """The NOTE section payload of one piece at setting s, with the bundle's priors for s."""
    c = _family()
    family = c.stream.model.Categorical(perfect=False)
    coder = c.stream.stack.AnsCoder()
    for _, symbols, weights in reversed(_plan(sym, s, priors)):
        if len(symbols):
            coder.encode_reverse(symbols.astype(np.int32), family, weights)
    words = coder.get_compressed().astype("<u4").tobytes()
    events = len(sym.gap) + sum(len(g) for g in sym.pedals.values())
    if not _plausible(events, len(words)):
        raise LimitError(f"{events} notes and pedal transitions code to {len(words)} bytes: too repetitive to store "
                         f"(a decoder refuses more than {NOTES_PER_BYTE} events per byte)")
    head = _HEAD.pack(CODING, s.grid_ms, s.velocity_step, s.duration_milli, len(sym.pedals))
    head += b"".join(_PEDAL.pack(n, len(g)) for n, g in sym.pedals.items())
    return head + _U32.pack(_symbols_crc(sym)) + words


def _plausible(events: int, word_bytes: int) -> bool:
    """Whether a stream of word_bytes may hold `events` notes and pedal transitions (see NOTES_PER_BYTE)."""
    return events <= FREE_EVENTS + NOTES_PER_BYTE * word_bytes


def _escapes(gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw little-endian bytes of (gap - DIRECT) for every escaped gap, coded uniformly."""
    big = gaps[gaps >= DIRECT] - DIRECT
    if big.size and big.max() >= 1 << (8 * ESCAPE_BYTES):
        raise LimitError(f"a gap of {int(big.max()) + DIRECT} grid steps is over the limit")
    raw = np.frombuffer(big.astype("<u4").tobytes(), np.uint8).astype(np.int64)
    return raw, np.ones((len(raw), 256))


def payload_head_size(n_pedals: int) -> int:
    """Bytes before the rANS words in a NOTE payload with n_pedals pedal streams."""
    return _HEAD.size + n_pedals * _PEDAL.size + _U32.size


def setting_of(payload: bytes, name: str) -> tuple[NoteSetting, dict[int, int]]:
    """The setting and {controller: transitions} a NOTE payload declares (checked against the limits)."""
    if len(payload) < _HEAD.size:
        raise TruncatedError(f"{name}: NOTE section is {len(payload)} bytes, shorter than its header")
    coding, grid, vstep, dmilli, n_pedals = _HEAD.unpack_from(payload)
    if coding != CODING:
        raise FormatError(f"{name}: NOTE coding {coding!r} is not one this version reads ({CODING!r})")
    try:
        s = NoteSetting(grid, vstep, dmilli)
    except ValueError as e:
        raise FormatError(f"{name}: {e}") from None
    if n_pedals > MAX_PEDALS or len(payload) < payload_head_size(n_pedals):
        raise FormatError(f"{name}: NOTE section declares {n_pedals} pedals it does not hold")
    pedals: dict[int, int] = {}
    for i in range(n_pedals):
        number, n = _PEDAL.unpack_from(payload, _HEAD.size + i * _PEDAL.size)
        if number > MIDI_MAX or number in pedals or n > MAX_NOTES:
            raise FormatError(f"{name}: NOTE pedal {number} with {n} transitions is invalid or repeated")
        pedals[number] = n
    return s, pedals


def decode(payload: bytes, n_notes: int, priors: dict[str, np.ndarray], name: str) -> tuple[Symbols, NoteSetting]:
    """NOTE payload -> symbols; FormatError or ChecksumError when the stream is damaged."""
    s, pedal_counts = setting_of(payload, name)
    for key, shape in s.streams().items():
        if key not in priors or priors[key].shape != shape:
            raise FormatError(f"{name}: the model's {key} prior does not fit the file's note setting {s}")
    if n_notes > MAX_NOTES:
        raise LimitError(f"{name}: {n_notes} notes, over the limit {MAX_NOTES}")
    pos = payload_head_size(len(pedal_counts))
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

    def escaped(values: np.ndarray) -> np.ndarray:
        big = np.flatnonzero(values == DIRECT)
        raw = np.array([one(uniform) for _ in range(len(big) * ESCAPE_BYTES)], np.uint8)
        out = values.copy()
        out[big] += np.frombuffer(raw.tobytes(), "<u4").astype(np.int64)
        return out

    n = n_notes
    gap = np.zeros(n, np.int64)
    m = _Model(priors["onset"])
    b1 = b2 = 0
    for i in range(n):
        ctx = b1 * N_GAP + b2
        gap[i] = one(m.weights(ctx))
        m.update(ctx, int(gap[i]))
        b1, b2 = int(_gap_bucket(gap[i])), b1
    gap = escaped(gap)
    chord = (gap == 0).astype(np.int64)
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
    pedals = {}
    m = _Model(priors["pedal"])
    for number, count_ in pedal_counts.items():
        gaps = np.zeros(count_, np.int64)
        prev_b = 0
        for i in range(count_):
            ctx = (1 - i % 2) * N_GAP + prev_b
            gaps[i] = one(m.weights(ctx))
            m.update(ctx, int(gaps[i]))
            prev_b = int(_gap_bucket(gaps[i]))
        pedals[number] = escaped(gaps)
    sym = Symbols(gap, streams["pitch"], streams["velocity"], streams["duration"], pedals)
    if not coder.is_empty() or _symbols_crc(sym) != crc:
        raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (damaged, or another prior)")
    return sym, s


