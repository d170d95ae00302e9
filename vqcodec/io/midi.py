"""Standard MIDI files to and from Performance (notes in seconds + pedal streams), via mido.

Reading applies the rules of RELIABILITY §4 and counts each one in `Performance.counts`:
- the tempo map is global: set_tempo in any track applies from its tick on, in mido's merged order;
- note_on with velocity 0 is a note-off; a note-on on a pitch that still sounds (re-strike) ends the earlier
  note at the new onset, and note-offs then release that pitch's note-ons in order (first on, first off);
- a note never released ends at the end of the file; a note-off with nothing to release is ignored;
- a note released at its onset keeps MIN_DURATION; drum-channel and non-piano-program notes are dropped;
- CC64/66/67 become pedal streams; other channel messages are dropped (counted).
Writing produces type 1 at one fixed tempo (see WRITE_PPQ), atomically.
"""

from __future__ import annotations

import io
import math
import struct
from collections import deque
from pathlib import Path

import mido
import numpy as np
from mido.midifiles.meta import KeySignatureError
from mido.midifiles.midifiles import DEFAULT_TEMPO

from vqcodec.container.atomic import write_atomic
from vqcodec.errors import InputError, LimitError
from vqcodec.midi.performance import PEDAL_CONTROLLERS, MidiSource, Pedal, Performance, RuleCounts

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


def read_midi(path: str | Path) -> Performance:
    """Read a type-0/1 MIDI file into a Performance, applying and counting the module's edge-case rules."""
    path = Path(path)
    mid, unknown = _load(path)
    counts = RuleCounts(unknown_chunks=unknown)
    notes = _NoteBuilder(counts)
    pedals: dict[int, list[tuple[float, int]]] = {}
    programs = [0] * N_CHANNELS
    tempo, tempo_events = DEFAULT_TEMPO, 0
    seg_tick, seg_sec, tick, sec = 0, 0.0, 0, 0.0  # where the current tempo began, and where we are
    for msg in mid.merged_track:
        tick += msg.time
        sec = seg_sec + (tick - seg_tick) * tempo / (US_PER_S * mid.ticks_per_beat)
        if sec > MAX_DURATION_S:
            raise LimitError(f"{path}: lasts over {MAX_DURATION_S / 3600:.0f} h (event at tick {tick})")
        if msg.type == "set_tempo":
            seg_tick, seg_sec, tempo = tick, sec, msg.tempo
            tempo_events += 1
            continue
        if msg.is_meta:
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
                       MidiSource(mid.type, mid.ticks_per_beat, tempo_events, sec))


def _ticks(times: np.ndarray) -> np.ndarray:
    """Seconds -> ticks of the written file (int64)."""
    return np.rint(times * TICKS_PER_SECOND).astype(np.int64)


def onset_quantisation_error(perf: Performance) -> float:
    """The largest |onset change| in seconds that write_midi's tick grid introduces (<= half a tick)."""
    if not len(perf):
        return 0.0
    return float(np.max(np.abs(_ticks(perf.onset) / TICKS_PER_SECOND - perf.onset)))


def _note_ticks(perf: Performance) -> tuple[np.ndarray, np.ndarray]:
    """(on, off) ticks, each note ended no later than the next onset of its pitch so no synth cuts the re-strike."""
    on, off = _ticks(perf.onset), _ticks(perf.offset)
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


def _track(perf: Performance) -> mido.MidiTrack:
    """The notes and pedal events as one channel track in delta ticks.

    Within a tick: note-offs of notes begun earlier, then note-ons and pedal events in table order, then the
    note-offs of notes that begin and end in this tick, so a reader pairs every off with the right on.
    """
    on, off = _note_ticks(perf)
    events = np.concatenate(
        [_events(on, _PHASE_START, _NOTE, perf.pitch, perf.velocity),
         _events(off, np.where(off > on, _PHASE_RELEASE, _PHASE_INSTANT_RELEASE), _NOTE, perf.pitch, 0)]
        + [_events(_ticks(p.time), _PHASE_START, number, number, p.value) for number, p in sorted(perf.pedals.items())],
        axis=1,
    )
    tick, phase, control, data1, data2 = events[:, np.lexsort((np.arange(events.shape[1]), events[1], events[0]))]
    delta = np.diff(tick, prepend=0)
    track = mido.MidiTrack([mido.Message("program_change", channel=WRITE_CHANNEL, program=0)])
    for dt, c, d1, d2 in zip(delta.tolist(), control.tolist(), data1.tolist(), data2.tolist()):
        if c == _NOTE:
            track.append(mido.Message("note_on", channel=WRITE_CHANNEL, note=d1, velocity=d2, time=dt))
        else:
            track.append(mido.Message("control_change", channel=WRITE_CHANNEL, control=d1, value=d2, time=dt))
    return track


def write_midi(path: str | Path, perf: Performance, force: bool = False) -> list[Path]:
    """Write a type-1 .mid (tempo track + one note/pedal track at WRITE_TEMPO, WRITE_PPQ), atomically."""
    tempo_track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=WRITE_TEMPO)])
    mid = mido.MidiFile(type=1, ticks_per_beat=WRITE_PPQ, tracks=[tempo_track, _track(perf)])
    return [write_atomic(path, lambda fh: mid.save(file=fh), force)]
