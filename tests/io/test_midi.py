"""MIDI read/write: tempo maps, the MIDI edge-case rules and bad files of docs/RELIABILITY.md, atomic writes."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import mido
import numpy as np
import pytest
from mido.midifiles.meta import UnknownMetaMessage

from tests.helpers.notes import assert_same_meta
from vqcodec.errors import InputError, LimitError, OutputExistsError, VqcError
from vqcodec.io.midi import (
    MIN_DURATION,
    TICKS_PER_SECOND,
    WRITE_PPQ,
    onset_quantisation_error,
    read_midi,
    write_midi,
)
from vqcodec.midi.performance import SOFT, SUSTAIN, MetaEvent, Pedal, Performance

HALF_TICK = 0.5 / TICKS_PER_SECOND + 1e-12


def hexbytes(text: str) -> bytes:
    """Bytes from a commented hexdump, mido style: `4d 54 68 64  # MThd`."""
    return bytes(int(b, 16) for line in text.splitlines() for b in line.split("#")[0].split())


HEADER = """
4d 54 68 64  # MThd
00 00 00 06  # header length 6
00 00        # type 0
00 01        # 1 track
00 60        # 96 ticks per beat
"""

RUNNING_STATUS_TRACK = """
4d 54 72 6b  # MTrk
00 00 00 0b  # 11 bytes
00 90 3c 40  # t=0 note_on C4 velocity 64
60 3c 00     # t=96 running status: note_on C4 velocity 0 = note-off
00 ff 2f 00  # end of track
"""

UNKNOWN_CHUNK = """
58 46 49 48  # XFIH, a vendor chunk
00 00 00 02  # 2 bytes
12 34
"""

BAD_FILES = {
    "type 2": ("4d 54 68 64 00 00 00 06  00 02  # type 2\n 00 01 00 60" + RUNNING_STATUS_TRACK,
               "type-2 MIDI not supported"),
    "SMPTE": ("4d 54 68 64 00 00 00 06 00 00 00 01  e7 28  # -25 fps, 40 ticks a frame" + RUNNING_STATUS_TRACK,
              "SMPTE time division not supported"),
    "truncated chunk": (HEADER + "4d 54 72 6b 00 00 00 0b  00 90 3c 40 60 3c  # 6 of 11 bytes",
                        "not a valid MIDI file: chunk b'MTrk' truncated"),
    "message cut by the track end": (HEADER + "4d 54 72 6b 00 00 00 03  00 90 3c  # note_on missing its velocity",
                                     "not a valid MIDI file: unexpected end of data"),
    "missing track": (HEADER.replace("00 01        # 1 track", "00 02  # 2 tracks") + RUNNING_STATUS_TRACK,
                      "not a valid MIDI file: header declares 2 tracks, found 1"),
    "data byte > 127": (HEADER + "4d 54 72 6b 00 00 00 08  00 90 3c c0  # velocity 0xc0\n 00 ff 2f 00",
                        "not a valid MIDI file: data byte must be in range 0..127"),
    "not MIDI": ("68 65 6c 6c 6f 20 77 6f 72 6c 64 0a 00 00  # 'hello world'", "not a valid MIDI file: MThd not found"),
    "RIFF": ("52 49 46 46 00 00 00 04 52 4d 49 44  # RIFF RMID", "not a valid MIDI file: RIFF-wrapped"),
    "header only, truncated": ("4d 54 68 64 00 00 00 06 00 00", "not a valid MIDI file: header truncated"),
    "empty": ("", "empty file"),
}


def write_bytes(tmp_path: Path, data: bytes, name: str = "t.mid") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def save(tmp_path: Path, tracks: list[list[mido.Message | mido.MetaMessage]], type: int = 1, tpb: int = 480,
         name: str = "t.mid") -> Path:
    """A MIDI file written by mido itself (message times are delta ticks)."""
    path = tmp_path / name
    mido.MidiFile(type=type, ticks_per_beat=tpb, tracks=[mido.MidiTrack(t) for t in tracks]).save(path)
    return path


def on(note: int, t: int = 0, velocity: int = 64, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=velocity, time=t, channel=channel)


def off(note: int, t: int = 0, channel: int = 0) -> mido.Message:
    return mido.Message("note_off", note=note, time=t, channel=channel)


def notes(perf: Performance) -> list[tuple[int, float, float, int]]:
    return [(int(p), round(a, 9), round(b, 9), int(v)) for p, a, b, v in
            zip(perf.pitch, perf.onset, perf.offset, perf.velocity)]


# --- bytes-level fixtures ---------------------------------------------------------------------------------------

def test_running_status_hexdump(tmp_path: Path) -> None:
    perf = read_midi(write_bytes(tmp_path, hexbytes(HEADER + RUNNING_STATUS_TRACK)))
    assert notes(perf) == [(60, 0.0, 0.5, 64)]
    assert perf.source is not None and (perf.source.type, perf.source.ticks_per_beat) == (0, 96)
    assert perf.counts.applied() == {}


def test_unknown_chunk_skipped_and_counted(tmp_path: Path) -> None:
    data = hexbytes(HEADER + UNKNOWN_CHUNK + RUNNING_STATUS_TRACK)
    perf = read_midi(write_bytes(tmp_path, data))
    assert notes(perf) == [(60, 0.0, 0.5, 64)] and perf.counts.unknown_chunks == 1


def test_header_without_tracks_is_an_empty_performance(tmp_path: Path) -> None:
    perf = read_midi(write_bytes(tmp_path, hexbytes(HEADER.replace("00 01        # 1 track", "00 00"))))
    assert len(perf) == 0 and perf.pedals == {}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_one_line_input_errors(tmp_path: Path, case: str) -> None:
    dump, reason = BAD_FILES[case]
    path = write_bytes(tmp_path, hexbytes(dump))
    with pytest.raises(InputError) as info:
        read_midi(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and reason in message and "\n" not in message


def test_huge_delta_time_is_a_limit_error(tmp_path: Path) -> None:
    track = """
    4d 54 72 6b 00 00 00 0b
    ff ff ff 7f  # delta 2**28 - 1 ticks: 388 h at 96 ticks per beat, 120 bpm
    90 3c 40     # note_on
    00 ff 2f 00  # end of track
    """
    path = write_bytes(tmp_path, hexbytes(HEADER + track))
    with pytest.raises(LimitError, match=f"^{path}: lasts over 24 h"):
        read_midi(path)


@pytest.mark.slow
def test_every_prefix_and_bit_flip_reads_or_raises_one_line_errors(tmp_path: Path) -> None:
    source = save(tmp_path, [[mido.MetaMessage("set_tempo", tempo=400000), mido.MetaMessage("key_signature", key="C")],
                             [on(60), mido.Message("control_change", control=SUSTAIN, value=100, time=10),
                              mido.Message("sysex", data=[1, 2, 3]), off(60, 50)]], tpb=96, name="base.mid")
    base, path = source.read_bytes(), tmp_path / "bad.mid"
    variants = [base[:cut] for cut in range(len(base))]
    variants += [bytes(b ^ (1 << bit) if i == at else b for i, b in enumerate(base))
                 for at in range(len(base)) for bit in range(8)]
    for data in variants:
        path.write_bytes(data)
        try:
            read_midi(path)
        except (InputError, LimitError) as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        else:
            assert len(data) == len(base), "a proper prefix must not read"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_midi(tmp_path / "absent.mid")
    with pytest.raises(InputError, match="is a directory"):
        read_midi(tmp_path)


# --- note semantics (files built with mido) -------------------------------------------------------------------

TEMPO_UP = [mido.MetaMessage("set_tempo", tempo=500000), mido.MetaMessage("set_tempo", tempo=250000, time=960)]
TEMPO_NOTES = [on(60, 480), off(60, 240), on(62, 720), off(62, 480)]  # ticks 480, 720, 1440, 1920
TEMPO_EXPECTED = [(60, 0.5, 0.75, 64), (62, 1.25, 1.5, 64)]  # 1 s at 120 bpm, then 240 bpm


@pytest.mark.parametrize(
    "layout, tracks, type",
    [
        ("type 0", [[TEMPO_UP[0], on(60, 480), off(60, 240), TEMPO_UP[1].copy(time=240), on(62, 480), off(62, 480)]],
         0),
        ("type 1", [TEMPO_UP, TEMPO_NOTES], 1),
        ("tempo in track 2", [[], TEMPO_NOTES, TEMPO_UP], 1),
    ],
)
def test_tempo_change_mid_piece(tmp_path: Path, layout: str, tracks: list, type: int) -> None:
    perf = read_midi(save(tmp_path, tracks, type=type))
    assert notes(perf) == TEMPO_EXPECTED, layout
    assert perf.source is not None and perf.source.tempo_events == 2


def test_velocity_zero_is_note_off(tmp_path: Path) -> None:
    perf = read_midi(save(tmp_path, [[on(60), on(60, 480, velocity=0), on(64, 0, 30), off(64, 480)]]))
    assert notes(perf) == [(60, 0.0, 0.5, 64), (64, 0.5, 1.0, 30)]
    assert perf.counts.applied() == {}


def test_restrike_ends_the_earlier_note_and_offs_release_in_order(tmp_path: Path) -> None:
    perf = read_midi(save(tmp_path, [[on(60, 0, 50), on(60, 480, 70), off(60, 96), off(60, 384)]]))
    assert notes(perf) == [(60, 0.0, 0.5, 50), (60, 0.5, 1.0, 70)]
    assert perf.counts.applied() == {"restrikes": 1}


def test_hanging_note_closed_at_the_end_of_the_file(tmp_path: Path) -> None:
    end = mido.MetaMessage("end_of_track", time=960)
    perf = read_midi(save(tmp_path, [[on(60), on(62, 480), off(62, 480), end]]))
    assert notes(perf) == [(60, 0.0, 2.0, 64), (62, 0.5, 1.0, 64)]
    assert perf.counts.applied() == {"hanging_notes": 1}
    assert perf.source is not None and perf.source.duration == 2.0


def test_orphan_note_off_ignored(tmp_path: Path) -> None:
    perf = read_midi(save(tmp_path, [[off(61), on(60, 480), off(60, 480), off(60, 0)]]))
    assert notes(perf) == [(60, 0.5, 1.0, 64)]
    assert perf.counts.applied() == {"orphan_note_offs": 2}


def test_zero_length_note_gets_the_minimum_duration(tmp_path: Path) -> None:
    perf = read_midi(save(tmp_path, [[on(60, 480), off(60, 0)]]))
    assert notes(perf) == [(60, 0.5, round(0.5 + MIN_DURATION, 9), 64)]
    assert perf.counts.applied() == {"zero_length_notes": 1}


def test_drum_and_non_piano_notes_dropped_and_counted(tmp_path: Path) -> None:
    track = [
        on(36, channel=9), on(60), mido.Message("control_change", channel=9, control=SUSTAIN, value=127),
        mido.Message("program_change", channel=1, program=40), on(72, channel=1),
        on(10, 0), off(36, 480, channel=9), off(60), off(72, channel=1), off(10),
    ]
    perf = read_midi(save(tmp_path, [track]))
    assert notes(perf) == [(10, 0.0, 0.5, 64), (60, 0.0, 0.5, 64)]
    assert perf.pedals == {}
    assert perf.counts.applied() == {"drum_notes": 1, "non_piano_notes": 1, "outside_piano_range": 1,
                                     "ignored_messages": 1}


# --- writing --------------------------------------------------------------------------------------------------

def spread_performance(n: int = 200, seed: int = 0) -> Performance:
    """Notes with off-grid times and no same-pitch overlap (pitch i % 88 recurs every 88 notes, ~4.4 s)."""
    rng = np.random.default_rng(seed)
    onset = np.arange(n) * 0.05 + rng.uniform(0, 0.01, n)
    pedal = Pedal(np.sort(rng.uniform(0, n * 0.05, 40)), rng.integers(0, 128, 40))
    return Performance(21 + np.arange(n) % 88, onset, onset + rng.uniform(0.001, 2, n), rng.integers(1, 128, n),
                       {SUSTAIN: pedal})


def test_write_read_round_trip_within_the_tick_grid(tmp_path: Path) -> None:
    perf = spread_performance()
    assert write_midi(tmp_path / "out.mid", perf) == [tmp_path / "out.mid"]
    back = read_midi(tmp_path / "out.mid")
    assert back.counts.applied() == {}
    assert back.source is not None and (back.source.type, back.source.tempo_events) == (1, 1)
    np.testing.assert_array_equal(back.pitch, perf.pitch)
    np.testing.assert_array_equal(back.velocity, perf.velocity)
    error = np.max(np.abs(back.onset - perf.onset))
    assert error <= onset_quantisation_error(perf) + 1e-12 and error <= HALF_TICK
    assert np.max(np.abs(back.offset - perf.offset)) <= HALF_TICK


def test_pedal_spans_round_trip(tmp_path: Path) -> None:
    pedals = {SUSTAIN: Pedal([0.1, 0.5, 0.5, 0.6, 1.0], [127, 30, 0, 64, 0]), SOFT: Pedal([0.2, 0.9], [100, 0])}
    perf = Performance([60], [0.0], [1.2], [80], pedals)
    write_midi(tmp_path / "p.mid", perf)
    back = read_midi(tmp_path / "p.mid")
    assert sorted(back.pedals) == [SUSTAIN, SOFT]
    for number, pedal in pedals.items():
        np.testing.assert_array_equal(back.pedals[number].value, pedal.value)
        np.testing.assert_allclose(back.pedals[number].time, pedal.time, rtol=0, atol=HALF_TICK)


def test_write_ends_an_overlapped_note_at_the_restrike(tmp_path: Path) -> None:
    perf = Performance([60, 60, 62], [0.0, 1.0, 1.0], [2.0, 1.5, 1.0], [50, 70, 90])
    write_midi(tmp_path / "r.mid", perf)
    back = read_midi(tmp_path / "r.mid")
    assert notes(back) == [(60, 0.0, 1.0, 50), (60, 1.0, 1.5, 70), (62, 1.0, 1.0 + MIN_DURATION, 90)]
    assert back.counts.applied() == {"zero_length_notes": 1}


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"precious")
    before = os.stat(path).st_mtime_ns
    with pytest.raises(OutputExistsError, match=f"^{path}: already exists"):
        write_midi(path, spread_performance(5))
    assert path.read_bytes() == b"precious" and os.stat(path).st_mtime_ns == before
    write_midi(path, spread_performance(5), force=True)
    assert len(read_midi(path)) == 5


def test_write_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_midi(tmp_path / "no" / "x.mid", spread_performance(5))


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def fail(self: mido.MidiFile, filename: str | None = None, file: object = None) -> None:
        file.write(b"MThd partial")
        raise error

    monkeypatch.setattr(mido.MidiFile, "save", fail)
    with pytest.raises(VqcError if isinstance(error, Exception) else KeyboardInterrupt):
        write_midi(tmp_path / "x.mid", spread_performance(5))
    assert list(tmp_path.iterdir()) == []


# --- meta events ----------------------------------------------------------------------------------------------

def meta_file(tmp_path: Path, tpb: int = 480) -> Path:
    """Every kept meta type, tempo changes mid-piece, events in three tracks, and the types a reader drops."""
    conductor = [
        mido.MetaMessage("set_tempo", tempo=600000),
        mido.MetaMessage("time_signature", numerator=3, denominator=4),
        mido.MetaMessage("key_signature", key="Eb"),
        mido.MetaMessage("smpte_offset", frame_rate=25),  # dropped: sync to time code
        mido.MetaMessage("sequencer_specific", data=[0x43, 0x7B, 0x01]),  # dropped: a sequencer's own data
        mido.MetaMessage("marker", text="A", time=960),
        mido.MetaMessage("set_tempo", tempo=400000, time=960),
        mido.MetaMessage("time_signature", numerator=6, denominator=8),
        mido.MetaMessage("text", text="Ä tempo giusto \xff", time=333),
        mido.MetaMessage("copyright", text="(c) nobody", time=1),
        mido.MetaMessage("set_tempo", tempo=1500000, time=2000),  # slower than the file's tick grid at 120 bpm
        mido.MetaMessage("cue_marker", text="fade", time=480),
    ]
    piano = [mido.MetaMessage("track_name", name="Piano"), mido.MetaMessage("instrument_name", name="Grand"),
             mido.MetaMessage("midi_port", port=1), mido.MetaMessage("channel_prefix", channel=0),  # dropped
             on(60, 100), off(60, 500), mido.MetaMessage("lyrics", text="la", time=7), on(64, 900),
             mido.Message("control_change", control=64, value=37, time=10), off(64, 3000)]
    words = [UnknownMetaMessage(0x08, data=list(b"Piano 1"), time=50),  # program_name: mido has no name for it
             mido.MetaMessage("device_name", name="out"),
             mido.MetaMessage("text", text="", time=5000),  # device_name dropped: routing
             mido.MetaMessage("text", text="long " * 3000, time=1)]  # a 15000-byte length: 3 bytes of varint
    return save(tmp_path, [conductor, piano, words], tpb=tpb, name="meta.mid")


def test_meta_events_are_kept_exactly_with_their_times_and_tracks(tmp_path: Path) -> None:
    perf = read_midi(meta_file(tmp_path))
    assert perf.counts.applied() == {"ignored_meta": 5}
    kept = [(e.type, e.track) for e in perf.meta]
    assert sorted(kept) == sorted([(0x51, 0), (0x58, 0), (0x59, 0), (0x06, 0), (0x51, 0), (0x58, 0), (0x01, 0),
                                   (0x02, 0), (0x51, 0), (0x07, 0), (0x03, 1), (0x04, 1), (0x05, 1), (0x08, 2),
                                   (0x01, 2), (0x01, 2)])
    first = perf.meta[0]
    assert (first.time, first.type, first.data, first.track) == (0.0, 0x51, bytes([0x09, 0x27, 0xC0]), 0)
    text = next(e for e in perf.meta if e.type == 0x01 and e.track == 0)
    assert text.data == "Ä tempo giusto \xff".encode("latin-1")  # mido's latin-1 text, byte for byte
    assert text.time == pytest.approx(2 * 960 * 0.6 / 480 + 333 * 0.4 / 480)  # after the tempo change at 1920
    assert [e.tempo for e in perf.meta if e.tempo] == [600000, 400000, 1500000]
    assert [round(t, 9) for t, *_ in [(e.time,) for e in perf.meta]] == sorted(round(e.time, 9) for e in perf.meta)
    assert notes(perf)[0][1] == pytest.approx(100 * 0.6 / 480)  # the notes are timed by the same tempo map


@pytest.mark.parametrize("tpb", [96, 480, 960, 1000])
def test_written_meta_events_read_back_as_mido_read_the_original(tmp_path: Path, tpb: int) -> None:
    original = meta_file(tmp_path, tpb)
    perf = read_midi(original)
    write_midi(tmp_path / "out.mid", perf)
    assert_same_meta(original, tmp_path / "out.mid")
    out = mido.MidiFile(tmp_path / "out.mid")
    assert out.ticks_per_beat == 3 * WRITE_PPQ  # 1.5 s a beat: a tick no longer than at 120 bpm and 1920
    assert [m.type for m in out.tracks[0] if m.is_meta][:3] == ["set_tempo", "time_signature", "key_signature"]
    assert [m.name for m in out.tracks[1] if m.type == "track_name"] == ["Piano"]  # back in its own track
    assert [m.type for m in out.tracks[2] if m.is_meta] == ["unknown_meta", "text", "text", "end_of_track"]
    back = read_midi(tmp_path / "out.mid")
    assert back.counts.applied() == {}
    assert [(e.type, e.data, e.track) for e in back.meta] == [(e.type, e.data, e.track) for e in perf.meta]
    np.testing.assert_allclose([e.time for e in back.meta], [e.time for e in perf.meta], rtol=0, atol=1 / 7680)
    np.testing.assert_allclose(back.onset, perf.onset, rtol=0, atol=onset_quantisation_error(perf) + 1e-9)
    assert onset_quantisation_error(perf) <= 1 / 7680 + 1e-12
    assert back.pedals[SUSTAIN].value.tolist() == [37]


def test_a_tempo_map_times_notes_and_events_without_drift(tmp_path: Path) -> None:
    """Tempo changes at times off any tick grid: every later time still within about half a tick."""
    rng = np.random.default_rng(9)
    tempo_times = np.sort(rng.uniform(0, 600, 300))
    meta = [MetaEvent(float(t), 0x51, int(x).to_bytes(3, "big")) for t, x in
            zip(tempo_times, rng.integers(200000, 1200000, 300))]
    meta += [MetaEvent(float(t), 0x06, b"m") for t in rng.uniform(0, 600, 50)]
    onset = np.sort(rng.uniform(0, 600, 2000))
    perf = Performance(rng.integers(21, 109, 2000), onset, onset + 0.1, rng.integers(1, 128, 2000),
                       {SUSTAIN: Pedal(np.sort(rng.uniform(0, 600, 500)), rng.integers(0, 128, 500))}, meta=meta)
    write_midi(tmp_path / "map.mid", perf)
    back = read_midi(tmp_path / "map.mid")
    tick = 1200000 / (1e6 * mido.MidiFile(tmp_path / "map.mid").ticks_per_beat)
    assert tick <= 1 / 3840
    np.testing.assert_allclose(np.sort(back.onset), np.sort(perf.onset), rtol=0, atol=tick / 2 + 1e-9)
    np.testing.assert_allclose(back.pedals[SUSTAIN].time, perf.pedals[SUSTAIN].time, rtol=0, atol=tick / 2 + 1e-9)
    np.testing.assert_allclose([e.time for e in back.meta], [e.time for e in perf.meta], rtol=0, atol=tick / 2 + 1e-9)
    assert [e.data for e in back.meta] == [e.data for e in perf.meta]


def test_a_performance_without_meta_events_is_written_as_before(tmp_path: Path) -> None:
    write_midi(tmp_path / "plain.mid", spread_performance(20))
    mid = mido.MidiFile(tmp_path / "plain.mid")
    assert mid.ticks_per_beat == WRITE_PPQ and len(mid.tracks) == 2
    assert [m.dict() for m in mid.tracks[0]] == [{"type": "set_tempo", "tempo": 500000, "time": 0},
                                                 {"type": "end_of_track", "time": 0}]


@pytest.mark.parametrize("event, says", [
    (dict(time=-1.0, type=0x01, data=b""), "time"), (dict(time=float("nan"), type=0x01, data=b""), "time"),
    (dict(time=0.0, type=0x2F, data=b""), "0x2f"), (dict(time=0.0, type=0x7F, data=b"x"), "0x7f"),
    (dict(time=0.0, type=0x51, data=b"\0\0\0"), "tempo"), (dict(time=0.0, type=0x51, data=b"\1\0"), "tempo"),
    (dict(time=0.0, type=0x58, data=b"\4\2\x18"), "time signature"),
    (dict(time=0.0, type=0x59, data=b"\x08\0"), "key signature"),
    (dict(time=0.0, type=0x59, data=b"\0\2"), "key signature"),
    (dict(time=0.0, type=0x03, data="x"), "bytes"), (dict(time=0.0, type=0x03, data=b"", track=2**15), "track"),
])
def test_a_meta_event_a_file_cannot_hold_is_refused(event: dict, says: str) -> None:
    with pytest.raises(InputError, match=says):
        MetaEvent(**event)


# --- real data ------------------------------------------------------------------------------------------------

def test_reads_an_asap_test_piece(data_dir: Path) -> None:
    folder = data_dir / "midi" / "asap"
    name = json.loads((folder / "SPLITS.json").read_text())["test"][0]
    row = next(r for r in csv.DictReader((folder / "index.csv").open()) if r["file"] == name)
    perf = read_midi(folder / name)
    assert len(perf) == int(row["note_on"])
    assert len(perf.pedals[SUSTAIN]) == int(row["cc64"])
    assert perf.source is not None and perf.source.ticks_per_beat == int(row["tpb"])
    assert abs(perf.source.duration - float(row["seconds"])) < 1.0
    assert 21 <= perf.pitch.min() and perf.pitch.max() <= 108
