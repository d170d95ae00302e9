"""Standard MIDI files to and from Performance (notes in seconds + pedal streams), via mido.

Reading applies the rules of docs/RELIABILITY.md ("MIDI edge cases") and counts each one in `Performance.counts`:
- the tempo map is global: set_tempo in any track applies from its tick on, in mido's merged order;
- note_on with velocity 0 is a note-off; a note-on on a pitch that still sounds (re-strike) ends the earlier
  note at the new onset, and note-offs then release that pitch's note-ons in order (first on, first off);
- a note never released ends at the end of the file; a note-off with nothing to release is ignored;
- a note released at its onset keeps MIN_DURATION; drum-channel and non-piano-program notes are dropped;
- CC64/66/67 become pedal streams; other channel messages are dropped (counted);
- meta events of the types in META_KEPT (tempo, time and key signature, text, markers, lyrics, names) are kept
  exactly, with their time in seconds and their track; other meta events are dropped (counted).
Writing produces type 1, atomically: at one fixed tempo (see WRITE_PPQ) when the performance has no meta events,
else with its own tempo events as the tempo map and every meta event written back at its time.
"""

from __future__ import annotations

import io
import math
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
from mido.midifiles.meta import KeySignatureError
from mido.midifiles.midifiles import DEFAULT_TEMPO

from vqcodec.container.atomic import write_atomic
from vqcodec.errors import InputError, LimitError
from vqcodec.midi.performance import (
    META_KEPT,
    META_TEMPO,
    PEDAL_CONTROLLERS,
    MetaEvent,
    MidiSource,
    Pedal,
    Performance,
    RuleCounts,
)

MAX_DURATION_S = 24 * 3600.0  # longer files are refused (huge delta times), as pretty_midi's MAX_TICK guards
MAX_FILE_BYTES = 64 * 1024 * 1024  # real piano MIDI is < 1 MB; mido holds the whole file in memory
MIN_DURATION = 1e-3  # seconds given to a note released at its onset
N_CHANNELS = 16
DRUM_CHANNEL = 9  # GM channel 10
PIANO_PROGRAMS = range(8)  # GM programs 1–8: the piano family
PIANO_RANGE = (21, 108)  # A0..C8
MAX_TRACKS = 2**15 - 1  # mido reads the track count as a signed short
US_PER_S = 1_000_000
WRITE_TEMPO = DEFAULT_TEMPO  # 500000 µs a beat = 120 bpm
# 1920 is a multiple of every common PPQ (96 … 960, incl. Disklavier's 384/480), so a file at tempo 500000 is
# written back on its own tick grid exactly; a tick is 1/3840 s, so other times move by <= 0.13 ms.
WRITE_PPQ = 1920
TICKS_PER_SECOND = WRITE_PPQ * US_PER_S / WRITE_TEMPO
MAX_PPQ = 2**15 - 1  # the header's division field: ticks per beat in 15 bits
WRITE_CHANNEL = 0
_NOTE = -1  # the controller column of note events in _track's event table
_PHASE_RELEASE, _PHASE_START, _PHASE_INSTANT_RELEASE = 0, 1, 2  # event order within one tick

_CHUNK = struct.Struct(">4sL")
_HEADER = struct.Struct(">HHH")  # format, track count, division
_MIDO_ERRORS = (EOFError, OSError, KeyError, ValueError, IndexError, TypeError, KeySignatureError)
_NOTE_TYPES = ("note_on", "note_off")


def _invalid(path: Path, reason: str) -> InputError:
    return InputError(f"{path}: not a valid MIDI file: {reason}")


def _reason(e: BaseException) -> str:
    """One line saying why mido failed (EOFError and KeyError carry no useful text of their own)."""
    if isinstance(e, EOFError):
        return "unexpected end of data"
    lines = str(e).strip().splitlines()
    if not lines:
        return type(e).__name__
    return f"{type(e).__name__} {lines[0]}" if isinstance(e, KeyError) else lines[0]


def _load(path: Path) -> tuple[mido.MidiFile, int]:
    """Check header and chunks ourselves, then let mido decode the MTrk chunks; also returns unknown chunks skipped."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LimitError(f"{path}: {size} bytes, over the MIDI file limit of {MAX_FILE_BYTES}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if not data:
        raise InputError(f"{path}: empty file")
    if data[:4] == b"RIFF":
        raise _invalid(path, "RIFF-wrapped MIDI (.rmi); extract its 'data' chunk first")
    if data[:4] != b"MThd":
        raise _invalid(path, "MThd not found")
    if len(data) < _CHUNK.size + _HEADER.size:
        raise _invalid(path, "header truncated")
    header_len = _CHUNK.unpack_from(data)[1]
    fmt, n_tracks, division = _HEADER.unpack_from(data, _CHUNK.size)
    if header_len < _HEADER.size:
        raise _invalid(path, f"header chunk of {header_len} bytes (expected >= {_HEADER.size})")
    if fmt == 2:
        raise InputError(f"{path}: type-2 MIDI not supported")
    if fmt > 2:
        raise _invalid(path, f"unknown format {fmt}")
    if division & 0x8000:
        raise InputError(f"{path}: SMPTE time division not supported (only ticks per beat)")
    if division == 0:
        raise _invalid(path, "0 ticks per beat")
    if n_tracks > MAX_TRACKS:
        raise _invalid(path, f"{n_tracks} tracks (at most {MAX_TRACKS})")
    pos, unknown = _CHUNK.size + header_len, 0
    tracks: list[bytes] = []
    while len(tracks) < n_tracks:
        if pos + _CHUNK.size > len(data):
            raise _invalid(path, f"header declares {n_tracks} tracks, found {len(tracks)}")
        name, length = _CHUNK.unpack_from(data, pos)
        end = pos + _CHUNK.size + length
        if end > len(data):
            present = len(data) - pos - _CHUNK.size
            raise _invalid(path, f"chunk {name!r} truncated ({length} bytes declared, {present} present)")
        if name == b"MTrk":
            tracks.append(data[pos:end])
        else:
            unknown += 1
        pos = end
    clean = data[: _CHUNK.size + header_len] + b"".join(tracks)
    try:
        return mido.MidiFile(file=io.BytesIO(clean)), unknown
    except _MIDO_ERRORS as e:
        raise _invalid(path, _reason(e)) from None


class _NoteBuilder:
    """Pairs note-ons with note-offs by pitch under the module's rules, counting each rule it applies."""

    def __init__(self, counts: RuleCounts) -> None:
        self.counts = counts
        self.pitch: list[int] = []
        self.velocity: list[int] = []
        self.onset: list[float] = []
        self.offset: list[float] = []  # NaN while the note sounds
        self.waiting: dict[int, deque[int]] = {}  # pitch -> its notes still owed a note-off, oldest first

    def start(self, pitch: int, velocity: int, sec: float) -> None:
        queue = self.waiting.setdefault(pitch, deque())
        if queue and math.isnan(self.offset[queue[-1]]):  # only the newest note of a pitch can still sound
            self.offset[queue[-1]] = sec
            self.counts.restrikes += 1
        queue.append(len(self.onset))
        self.pitch.append(pitch)
        self.velocity.append(velocity)
        self.onset.append(sec)
        self.offset.append(math.nan)

    def release(self, pitch: int, sec: float) -> None:
        queue = self.waiting.get(pitch)
        if not queue:
            self.counts.orphan_note_offs += 1
            return
        note = queue.popleft()
        if math.isnan(self.offset[note]):  # else a re-strike ended it and this is its own note-off
            self.offset[note] = sec

    def arrays(self, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pitch, onset, offset, velocity): hanging notes end at `end`, zero-length ones last MIN_DURATION."""
        onset, offset = np.array(self.onset, dtype=np.float64), np.array(self.offset, dtype=np.float64)
        hanging = np.isnan(offset)
        offset[hanging] = end
        zero = offset <= onset
        offset[zero] = onset[zero] + MIN_DURATION
        pitch = np.array(self.pitch, dtype=np.uint8)
        self.counts.hanging_notes += int(hanging.sum())
        self.counts.zero_length_notes += int(zero.sum())
        self.counts.outside_piano_range += int(np.sum((pitch < PIANO_RANGE[0]) | (pitch > PIANO_RANGE[1])))
        return pitch, onset, offset, np.array(self.velocity, dtype=np.uint8)


def _merged(mid: mido.MidiFile) -> list[tuple[int, int, mido.Message | mido.MetaMessage]]:
    """(tick, track, message) of every message in playback order: by tick, and at one tick in track order, then
    file order (mido's merged_track order, which does not say which track a message came from)."""
    out = []
    for number, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            out.append((tick, number, msg))
    out.sort(key=lambda row: row[0])  # stable
    return out


def _meta_event(msg: mido.MetaMessage, sec: float, track: int) -> MetaEvent | None:
    """The MetaEvent of a meta message of a kept type, exactly as its bytes; None for the other types."""
    raw = msg.bytes()  # 0xFF, type, length (a variable-length quantity), data
    if raw[1] not in META_KEPT:
        return None
    start = 2
    while raw[start] & 0x80:
        start += 1
    data = bytes(raw[start + 1 :])
    if raw[1] == META_TEMPO and not any(data):
        return None  # a tempo of 0 µs per beat: it times the reading, but no file can hold events after it apart
    return MetaEvent(sec, raw[1], data, track)


def read_midi(path: str | Path) -> Performance:
    """Read a type-0/1 MIDI file into a Performance, applying and counting the module's edge-case rules."""
    path = Path(path)
    mid, unknown = _load(path)
    counts = RuleCounts(unknown_chunks=unknown)
    notes = _NoteBuilder(counts)
    pedals: dict[int, list[tuple[float, int]]] = {}
    meta: list[MetaEvent] = []
    programs = [0] * N_CHANNELS
    tempo, tempo_events = DEFAULT_TEMPO, 0
    seg_tick, seg_sec, sec = 0, 0.0, 0.0  # where the current tempo began, and where we are
    for tick, track, msg in _merged(mid):
        sec = seg_sec + (tick - seg_tick) * tempo / (US_PER_S * mid.ticks_per_beat)
        if sec > MAX_DURATION_S:
            raise LimitError(f"{path}: lasts over {MAX_DURATION_S / 3600:.0f} h (event at tick {tick})")
        if msg.is_meta:
            if msg.type == "end_of_track":
                continue
            event = _meta_event(msg, sec, track)
            if event is None:
                counts.ignored_meta += 1
            else:
                meta.append(event)
            if msg.type == "set_tempo":
                seg_tick, seg_sec, tempo = tick, sec, msg.tempo
                tempo_events += 1
            continue
        channel = getattr(msg, "channel", None)  # sysex has none
        is_start = msg.type == "note_on" and msg.velocity > 0
        if msg.type == "program_change" and channel is not None:
            programs[channel] = msg.program
        elif channel is not None and (channel == DRUM_CHANNEL or programs[channel] not in PIANO_PROGRAMS):
            if is_start and channel == DRUM_CHANNEL:
                counts.drum_notes += 1
            elif is_start:
                counts.non_piano_notes += 1
            elif msg.type not in _NOTE_TYPES:
                counts.ignored_messages += 1
        elif is_start:
            notes.start(msg.note, msg.velocity, sec)
        elif msg.type in _NOTE_TYPES:
            notes.release(msg.note, sec)
        elif msg.type == "control_change" and msg.control in PEDAL_CONTROLLERS:
            pedals.setdefault(msg.control, []).append((sec, msg.value))
        else:
            counts.ignored_messages += 1
    pedal_streams = {c: Pedal(np.array([t for t, _ in ev], np.float64), np.array([v for _, v in ev], np.int64))
                     for c, ev in sorted(pedals.items())}
    return Performance(*notes.arrays(sec), pedal_streams, counts,
                       MidiSource(mid.type, mid.ticks_per_beat, tempo_events, sec), meta)


@dataclass(frozen=True)
class TickMap:
    """Seconds -> ticks of a written file: `ppq` ticks per beat, and tempo segments from seconds sec[i] (as a
    reader computes them from the ticks), tick tick[i], at tempo[i] µs per beat; WRITE_TEMPO before any tempo event.

    Each tempo event goes to the tick nearest its time under the tempo before it, and every other time is measured
    from where the reader will put that tick, so no error accumulates: each time moves by at most about half a tick
    of its segment. ppq is WRITE_PPQ times the smallest factor that makes a tick at the slowest tempo no longer than
    at WRITE_TEMPO (at most MAX_PPQ), so a file whose ticks per beat divide WRITE_PPQ is written on its own grid."""

    ppq: int
    sec: np.ndarray
    tick: np.ndarray
    tempo: np.ndarray

    @classmethod
    def of(cls, meta: list[MetaEvent]) -> TickMap:
        tempos = [(e.time, int(e.tempo)) for e in meta if e.tempo is not None]
        slowest = max([WRITE_TEMPO] + [t for _, t in tempos])
        ppq = WRITE_PPQ * min(MAX_PPQ // WRITE_PPQ, -(-slowest // WRITE_TEMPO))
        sec, tick, tempo = [0.0], [0], [WRITE_TEMPO]
        for t, new in tempos:
            at = max(tick[-1], tick[-1] + round((t - sec[-1]) * ppq * US_PER_S / tempo[-1]))
            sec.append(sec[-1] + (at - tick[-1]) * tempo[-1] / (US_PER_S * ppq))
            tick.append(at)
            tempo.append(new)
        return cls(ppq, np.array(sec), np.array(tick, np.int64), np.array(tempo, np.int64))

    def ticks(self, times: np.ndarray) -> np.ndarray:
        """Seconds -> ticks (int64): in the last segment that starts at or before each time."""
        times = np.asarray(times, np.float64)
        i = np.maximum(np.searchsorted(self.sec, times, side="right") - 1, 0)
        rate = self.ppq * US_PER_S / self.tempo  # ticks per second of each segment (3840.0 at WRITE_*)
        return self.tick[i] + np.rint((times - self.sec[i]) * rate[i]).astype(np.int64)

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Ticks -> seconds, as a reader of the written file computes them."""
        ticks = np.asarray(ticks, np.int64)
        i = np.maximum(np.searchsorted(self.tick, ticks, side="right") - 1, 0)
        return self.sec[i] + (ticks - self.tick[i]) * self.tempo[i] / (US_PER_S * self.ppq)


def _ticks(times: np.ndarray, tick_map: TickMap | None = None) -> np.ndarray:
    """Seconds -> ticks of the written file (int64); at WRITE_TEMPO and WRITE_PPQ without a tick map."""
    if tick_map is None:
        return np.rint(np.asarray(times) * TICKS_PER_SECOND).astype(np.int64)
    return tick_map.ticks(times)


def onset_quantisation_error(perf: Performance) -> float:
    """The largest |onset change| in seconds that write_midi's tick grid introduces (about half a tick at most)."""
    if not len(perf):
        return 0.0
    tick_map = TickMap.of(perf.meta)
    return float(np.max(np.abs(tick_map.seconds(tick_map.ticks(perf.onset)) - perf.onset)))


def _note_ticks(perf: Performance, tick_map: TickMap) -> tuple[np.ndarray, np.ndarray]:
    """(on, off) ticks, each note ended no later than the next onset of its pitch so no synth cuts the re-strike."""
    on, off = tick_map.ticks(perf.onset), tick_map.ticks(perf.offset)
    by_pitch = np.lexsort((on, perf.pitch))
    same = perf.pitch[by_pitch][1:] == perf.pitch[by_pitch][:-1]
    earlier, later = by_pitch[:-1][same], by_pitch[1:][same]
    off[earlier] = np.minimum(off[earlier], on[later])
    return on, off


def _events(tick: np.ndarray, phase: int | np.ndarray, control: int, data1: np.ndarray | int,
            data2: np.ndarray | int) -> np.ndarray:
    """[5, N] int64 event rows: tick, phase within the tick, controller (_NOTE for notes), data1, data2."""
    columns = np.broadcast_arrays(*(np.asarray(x, dtype=np.int64) for x in (tick, phase, control, data1, data2)))
    return np.stack(columns)


def _channel_events(perf: Performance, tick_map: TickMap) -> list[tuple[int, mido.Message]]:
    """The notes and pedal events as (tick, message) of one channel, in order.

    Within a tick: note-offs of notes begun earlier, then note-ons and pedal events in table order, then the
    note-offs of notes that begin and end in this tick, so a reader pairs every off with the right on.
    """
    on, off = _note_ticks(perf, tick_map)
    events = np.concatenate(
        [_events(on, _PHASE_START, _NOTE, perf.pitch, perf.velocity),
         _events(off, np.where(off > on, _PHASE_RELEASE, _PHASE_INSTANT_RELEASE), _NOTE, perf.pitch, 0)]
        + [_events(tick_map.ticks(p.time), _PHASE_START, number, number, p.value)
           for number, p in sorted(perf.pedals.items())],
        axis=1,
    )
    tick, phase, control, data1, data2 = events[:, np.lexsort((np.arange(events.shape[1]), events[1], events[0]))]
    out = [(0, mido.Message("program_change", channel=WRITE_CHANNEL, program=0))]
    for t, c, d1, d2 in zip(tick.tolist(), control.tolist(), data1.tolist(), data2.tolist()):
        if c == _NOTE:
            out.append((t, mido.Message("note_on", channel=WRITE_CHANNEL, note=d1, velocity=d2)))
        else:
            out.append((t, mido.Message("control_change", channel=WRITE_CHANNEL, control=d1, value=d2)))
    return out


def meta_message(event: MetaEvent) -> mido.MetaMessage:
    """The mido message of a MetaEvent, built from its exact bytes."""
    n, length = len(event.data), [len(event.data) & 0x7F]
    while n > 0x7F:
        n >>= 7
        length.insert(0, (n & 0x7F) | 0x80)
    return mido.MetaMessage.from_bytes([0xFF, event.type, *length, *event.data])


def _delta_track(events: list[tuple[int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    """(tick, message) in order -> a track in delta ticks (the messages, made for it, take their delta)."""
    track, now = mido.MidiTrack(), 0
    for tick, msg in events:
        msg.time = tick - now
        track.append(msg)
        now = tick
    return track


def write_midi(path: str | Path, perf: Performance, force: bool = False) -> list[Path]:
    """Write a type-1 .mid, atomically. Without meta events: a tempo track (one set_tempo, WRITE_TEMPO) and one
    note/pedal track at WRITE_PPQ, as ever. With them: their tempo events are the tempo map (`TickMap`) and go to
    the first track, where every reader looks for them; every other meta event goes back to the track it came from
    (the notes and pedals are track 1), before the channel events of its tick."""
    if not perf.meta:
        tempo_track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=WRITE_TEMPO)])
        channel = _delta_track(_channel_events(perf, TickMap.of([])))
        mid = mido.MidiFile(type=1, ticks_per_beat=WRITE_PPQ, tracks=[tempo_track, channel])
        return [write_atomic(path, lambda fh: mid.save(file=fh), force)]
    tick_map = TickMap.of(perf.meta)
    ticks = tick_map.ticks(np.array([e.time for e in perf.meta]))
    ticks[[e.type == META_TEMPO for e in perf.meta]] = tick_map.tick[1:]  # each tempo event where the map has it
    tracks: list[list[tuple[int, mido.Message | mido.MetaMessage]]] = [[] for _ in range(2)]
    for tick, e in zip(ticks.tolist(), perf.meta):
        number = 0 if e.type == META_TEMPO else e.track
        tracks.extend([] for _ in range(number + 1 - len(tracks)))
        tracks[number].append((tick, meta_message(e)))
    tracks[1] += _channel_events(perf, tick_map)
    tracks = [sorted(t, key=lambda row: row[0]) for t in tracks]  # stable: a tick's meta events come first
    mid = mido.MidiFile(type=1, ticks_per_beat=tick_map.ppq, tracks=[_delta_track(t) for t in tracks])
    return [write_atomic(path, lambda fh: mid.save(file=fh), force)]
