"""Piano performances as a note table (the MIDI counterpart of Signal), and its lossless packing baseline.

A `Performance` holds notes as parallel arrays (pitch, onset s, offset s, velocity) sorted by (onset, pitch),
pedal controllers as (time s, value) streams, the file's meta events that carry musical or editorial information
(tempo, metre, key, text; `MetaEvent`), how often each MIDI edge-case rule fired while reading, and the source
file's timing facts. `pack_lossless` is the "note table on a grid + varint/delta + zstd" baseline that
`vqcodec bench` compares with: exact in pitch, velocity and pedal values, times rounded to the grid (error <= grid/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import zstandard

from vqcodec.container.format import ZSTD_LEVEL
from vqcodec.errors import FormatError, InputError, LimitError, TruncatedError, VersionError

MIDI_MAX = 127  # largest pitch, velocity, controller and controller value
SUSTAIN = 64
SOSTENUTO = 66
SOFT = 67
PEDAL_CONTROLLERS = (SUSTAIN, SOSTENUTO, SOFT)

PACK_MAGIC = b"VQNT"
PACK_VERSION = 1
US_PER_S = 1_000_000
US_PER_MS = 1000
MAX_PACKED_EVENTS = 2**24  # notes, or events of one pedal: far above 24 h of playing; checked before allocating
MAX_PACKED_BYTES = 2**28  # decompressed payload cap (a zstd bomb guard)
_VARINT_MAX_BYTES = 9  # 63 bits: every value fits int64


@dataclass
class Pedal:
    """One controller's events: time [N] float64 seconds (sorted), value [N] uint8 0–127 (64+ = sustain down)."""

    time: np.ndarray
    value: np.ndarray

    def __post_init__(self) -> None:
        self.time = _times(self.time, "pedal time")
        self.value = _ints(self.value, "pedal value", 0, MIDI_MAX, len(self.time))
        order = np.argsort(self.time, kind="stable")
        self.time, self.value = self.time[order], self.value[order]

    def __len__(self) -> int:
        return len(self.time)


META_TEXT = range(0x01, 0x09)
"""Meta event types kept as text: text, copyright, track_name, instrument_name, lyrics, marker, cue_marker and
program_name (what a musician or an editor wrote into the file)."""
META_TEMPO, META_TIME_SIGNATURE, META_KEY_SIGNATURE = 0x51, 0x58, 0x59
"""Meta event types kept for the music they state: tempo (µs per beat, the map of beats onto seconds), metre and
key."""
META_KEPT = frozenset([*META_TEXT, META_TEMPO, META_TIME_SIGNATURE, META_KEY_SIGNATURE])
"""The meta event types a Performance keeps, exactly. The others say how the file itself is laid out or played
back, not what the music is: end_of_track (the writer ends its own tracks), sequence_number, channel_prefix,
midi_port and device_name (routing), smpte_offset (sync of the file's first tick to video time code) and
sequencer_specific (a sequencer's private data); reading counts them as ignored_meta."""
MAX_META_TRACK = 2**15 - 1
"""The largest track number a meta event may name (a MIDI file has at most 2^15 - 1 tracks)."""


@dataclass(frozen=True)
class MetaEvent:
    """One meta event as the MIDI file held it: time in seconds (under the file's own tempo map, like the notes),
    the track it was in, its type byte (META_KEPT) and its data bytes, exactly."""

    time: float
    type: int
    data: bytes
    track: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.time, (int, float)) and math.isfinite(self.time) and self.time >= 0):
            raise InputError(f"meta event time must be finite seconds >= 0, got {self.time!r}")
        if self.type not in META_KEPT:
            raise InputError(f"meta event type 0x{self.type:02x} is not one a performance keeps")
        if not isinstance(self.data, bytes):
            raise InputError(f"meta event data must be bytes, got {type(self.data).__name__}")
        if not (isinstance(self.track, int) and 0 <= self.track <= MAX_META_TRACK):
            raise InputError(f"meta event track must be 0..{MAX_META_TRACK}, got {self.track!r}")
        if self.type == META_TEMPO and (len(self.data) != 3 or not any(self.data)):
            raise InputError("a tempo meta event holds 3 bytes of a tempo above 0 µs per beat")
        if self.type == META_TIME_SIGNATURE and len(self.data) != 4:
            raise InputError("a time signature meta event holds 4 bytes")
        if self.type == META_KEY_SIGNATURE and (len(self.data) != 2 or self.data[1] > 1
                                                or not -7 <= int.from_bytes(self.data[:1], "big", signed=True) <= 7):
            raise InputError("a key signature meta event holds 2 bytes: -7..7 sharps, then 0 (major) or 1 (minor)")

    @property
    def tempo(self) -> int | None:
        """µs per beat of a tempo event, None for any other type."""
        return int.from_bytes(self.data, "big") if self.type == META_TEMPO else None


@dataclass
class RuleCounts:
    """How often each MIDI edge-case rule (docs/RELIABILITY.md, "MIDI edge cases") was applied while reading one file
    (or a set)."""

    hanging_notes: int = 0  # note-on never released: closed at the end of the file
    orphan_note_offs: int = 0  # note-off with no note of that pitch sounding: ignored
    restrikes: int = 0  # note-on while the same pitch sounds: the earlier note ends at the new onset
    zero_length_notes: int = 0  # off at the onset time: kept with the minimum duration
    drum_notes: int = 0  # note-ons on the GM drum channel: dropped
    non_piano_notes: int = 0  # note-ons on a channel whose program is outside the GM piano family: dropped
    outside_piano_range: int = 0  # pitches outside 21–108 (A0–C8): kept, counted
    unknown_chunks: int = 0  # non-MTrk chunks after the header: skipped
    ignored_messages: int = 0  # other non-meta messages, not represented (other CCs, aftertouch, bend, sysex)
    ignored_meta: int = 0  # meta events of a type not in META_KEPT (end_of_track aside), and tempos of 0

    def __add__(self, other: RuleCounts) -> RuleCounts:
        return RuleCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def applied(self) -> dict[str, int]:
        """The non-zero counts, for reports."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class MidiSource:
    """Timing facts of the file a Performance was read from."""

    type: int
    ticks_per_beat: int
    tempo_events: int  # set_tempo messages (1 = one fixed tempo)
    duration: float  # end of the last track, seconds


@dataclass
class Performance:
    """A piano performance as a note table.

    pitch [N] uint8 0–127, onset/offset [N] float64 seconds (offset >= onset), velocity [N] uint8 1–127;
    converted and sorted by (onset, pitch) on construction. pedals: controller number -> Pedal. meta: the
    MetaEvents, sorted by time (stable, so events at one time keep their order).
    """

    pitch: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    velocity: np.ndarray
    pedals: dict[int, Pedal] = field(default_factory=dict)
    counts: RuleCounts = field(default_factory=RuleCounts)
    source: MidiSource | None = None
    meta: list[MetaEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.onset = _times(self.onset, "onset")
        n = len(self.onset)
        self.offset = _times(self.offset, "offset", n)
        self.pitch = _ints(self.pitch, "pitch", 0, MIDI_MAX, n)
        self.velocity = _ints(self.velocity, "velocity", 1, MIDI_MAX, n)
        if np.any(self.offset < self.onset):
            raise InputError(f"offset before onset at note {int(np.argmax(self.offset < self.onset))}")
        for number, pedal in self.pedals.items():
            if not 0 <= number <= MIDI_MAX or not isinstance(pedal, Pedal):
                raise InputError(f"pedals must map controllers 0..{MIDI_MAX} to Pedal, got {number}: {type(pedal)}")
        order = np.lexsort((self.pitch, self.onset))
        self.pitch, self.onset = self.pitch[order], self.onset[order]
        self.offset, self.velocity = self.offset[order], self.velocity[order]
        if not all(isinstance(e, MetaEvent) for e in self.meta):
            raise InputError("meta must be a list of MetaEvent")
        self.meta = sorted(self.meta, key=lambda e: e.time)

    def __len__(self) -> int:
        return len(self.onset)

    @property
    def end(self) -> float:
        """The last note offset or pedal event, seconds (0 when empty)."""
        times = [self.offset] + [p.time for p in self.pedals.values()]
        return float(max((t.max() for t in times if len(t)), default=0.0))


def _times(values: np.ndarray, what: str, n: int | None = None) -> np.ndarray:
    """A 1-D float64 array of finite, non-negative seconds (of length n when given)."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or (n is not None and len(a) != n):
        raise InputError(f"{what} must be 1-D of length {n if n is not None else 'N'}, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputError(f"{what} must be finite and >= 0")
    return a


def _ints(values: np.ndarray, what: str, lo: int, hi: int, n: int) -> np.ndarray:
    """A 1-D uint8 array of length n with integer values in [lo, hi] (checked before the cast)."""
    a = np.asarray(values)
    if a.ndim != 1 or len(a) != n:
        raise InputError(f"{what} must be 1-D of length {n}, got shape {a.shape}")
    if len(a) and (not np.all(a == np.round(a)) or a.min() < lo or a.max() > hi):
        raise InputError(f"{what} must be integers in {lo}..{hi}")
    return a.astype(np.uint8)


def _varints(values: np.ndarray) -> bytes:
    """LEB128 (7 bits a byte, high bit = more) of non-negative integers, vectorised."""
    v = np.asarray(values, dtype=np.uint64)
    if not len(v):
        return b""
    width = np.ones(len(v), dtype=np.uint64)
    while np.any(grow := (v >> (np.uint64(7) * width)) > 0):  # values < 2**63, so shifts stay < 64
        width += grow
    width = width.astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(width)[:-1]))
    out = np.zeros(int(width.sum()), dtype=np.uint8)
    for k in range(int(width.max())):
        sel = width > k
        more = np.where(width[sel] > k + 1, 0x80, 0).astype(np.uint64)
        out[starts[sel] + k] = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)) | more
    return out.tobytes()


def _read_varints(buf: np.ndarray, pos: int, n: int, what: str) -> tuple[np.ndarray, int]:
    """n LEB128 integers from buf[pos:] -> (int64 values, position after them)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), pos
    ends = np.flatnonzero(buf[pos:] < 0x80)[:n] + pos
    if len(ends) < n:
        raise TruncatedError(f"{what}: {n} values declared, {len(ends)} present")
    starts = np.concatenate(([pos], ends[:-1] + 1))
    width = ends - starts + 1
    if width.max() > _VARINT_MAX_BYTES:
        raise FormatError(f"{what}: varint longer than {_VARINT_MAX_BYTES} bytes")
    values = np.zeros(n, dtype=np.int64)
    for k in range(int(width.max())):
        sel = width > k
        values[sel] |= (buf[starts[sel] + k].astype(np.int64) & 0x7F) << (7 * k)
    return values, int(ends[-1]) + 1


def _read_bytes(buf: np.ndarray, pos: int, n: int, what: str) -> tuple[np.ndarray, int]:
    """n raw bytes from buf[pos:]."""
    if pos + n > len(buf):
        raise TruncatedError(f"{what}: {n} bytes declared, {len(buf) - pos} present")
    return buf[pos : pos + n], pos + n


def _byte_deltas(values: np.ndarray) -> bytes:
    """Differences of uint8 values, modulo 256 (np.cumsum with dtype uint8 inverts it)."""
    return np.diff(values, prepend=np.uint8(0)).tobytes()


def _grid_units(times: np.ndarray, grid_us: int) -> np.ndarray:
    """Seconds -> nearest grid step (int64)."""
    return np.rint(times * (US_PER_S / grid_us)).astype(np.int64)


def pack_lossless(perf: Performance, grid_ms: float = 1.0, pedal: bool = True) -> bytes:
    """The baseline bytes: times on a grid_ms grid (onset/offset error <= grid/2), pitch, velocity and pedal exact.

    Streams, each contiguous: Δonset and duration in grid steps as varints, pitch bytes, velocity bytes; then per
    pedal controller Δtime varints and Δvalue bytes (mod 256: pedal values ramp, pitches and velocities do not, as
    measured on asap); all after a varint header in one zstd -19 frame.
    """
    grid_us = round(grid_ms * US_PER_MS)
    if grid_us < 1 or abs(grid_us - grid_ms * US_PER_MS) > 1e-6:
        raise InputError(f"grid_ms must be a positive whole number of microseconds, got {grid_ms}")
    on = _grid_units(perf.onset, grid_us)
    off = _grid_units(perf.offset, grid_us)
    order = np.lexsort((perf.pitch, on))  # rounding can reorder equal-step notes
    on, off = on[order], off[order]
    pedals = sorted(perf.pedals.items()) if pedal else []
    header = [grid_us, len(perf), len(pedals)] + [x for number, p in pedals for x in (number, len(p))]
    parts = [_varints(np.array(header)), _varints(np.diff(on, prepend=0)), _varints(off - on),
             perf.pitch[order].tobytes(), perf.velocity[order].tobytes()]
    for _, p in pedals:
        parts += [_varints(np.diff(_grid_units(p.time, grid_us), prepend=0)), _byte_deltas(p.value)]
    payload = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(b"".join(parts))
    return PACK_MAGIC + bytes([PACK_VERSION]) + payload


def unpack_lossless(data: bytes, name: str = "<bytes>") -> Performance:
    """Inverse of pack_lossless (times come back on the grid; counts and source are not stored)."""
    prefix = len(PACK_MAGIC) + 1
    if len(data) < prefix or data[: len(PACK_MAGIC)] != PACK_MAGIC:
        raise FormatError(f"{name}: not a packed note table")
    if data[len(PACK_MAGIC)] != PACK_VERSION:
        raise VersionError(f"{name}: packed note table version {data[len(PACK_MAGIC)]}, expected {PACK_VERSION}")
    frame = data[prefix:]
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise FormatError(f"{name}: bad zstd frame header ({e})") from None
    if declared < 0:
        raise FormatError(f"{name}: zstd frame does not declare its content size")
    if declared > MAX_PACKED_BYTES:
        raise LimitError(f"{name}: zstd frame declares {declared} bytes (limit {MAX_PACKED_BYTES})")
    try:
        raw = zstandard.ZstdDecompressor().decompress(frame, max_output_size=declared, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise FormatError(f"{name}: zstd: {e}") from None
    buf = np.frombuffer(raw, dtype=np.uint8)
    (grid_us, n, n_pedals), pos = _read_varints(buf, 0, 3, f"{name}: header")
    if grid_us < 1 or n > MAX_PACKED_EVENTS or n_pedals > MIDI_MAX + 1:
        raise LimitError(f"{name}: header out of range (grid {grid_us} µs, {n} notes, {n_pedals} pedals)")
    pedal_head, pos = _read_varints(buf, pos, 2 * int(n_pedals), f"{name}: pedal header")
    d_on, pos = _read_varints(buf, pos, int(n), f"{name}: onsets")
    dur, pos = _read_varints(buf, pos, int(n), f"{name}: durations")
    pitch, pos = _read_bytes(buf, pos, int(n), f"{name}: pitches")
    velocity, pos = _read_bytes(buf, pos, int(n), f"{name}: velocities")
    step = grid_us / US_PER_S
    on = np.cumsum(d_on)
    pedals = {}
    for number, count in pedal_head.reshape(-1, 2):
        if count > MAX_PACKED_EVENTS:
            raise LimitError(f"{name}: pedal {number} declares {count} events")
        d_t, pos = _read_varints(buf, pos, int(count), f"{name}: pedal {number} times")
        d_v, pos = _read_bytes(buf, pos, int(count), f"{name}: pedal {number} values")
        pedals[int(number)] = (np.cumsum(d_t) * step, np.cumsum(d_v, dtype=np.uint8))
    if pos != len(buf):
        raise FormatError(f"{name}: {len(buf) - pos} trailing bytes after the streams")
    try:
        return Performance(pitch, on * step, (on + dur) * step, velocity,
                           {k: Pedal(t, v) for k, (t, v) in pedals.items()})
    except ValueError as e:
        raise FormatError(f"{name}: {e}") from None
