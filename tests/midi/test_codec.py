"""NoteCodec with the shipped midi bundle (midi-v2): determinism, every quality level's bounds measured on the decoded
file, bundle identity (another id is a mismatch, a tampered file fails at load), the public api."""

from __future__ import annotations

import csv
import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard

from tests.helpers.bundles import copied_bundle
from tests.helpers.notes import assert_same_meta, random_performance
from vqcodec import api
from vqcodec.container import format as vqc
from vqcodec.errors import (
    BundleError,
    FormatError,
    LimitError,
    ModelMismatchError,
    ModelNotFoundError,
)
from vqcodec.midi import choice as noterdo
from vqcodec.midi import coder as nc
from vqcodec.midi import file as midi_file
from vqcodec.midi.codec import STORED_METRICS, NoteCodec
from vqcodec.midi.performance import SOFT, SUSTAIN, MetaEvent, Pedal, Performance

EPS = 1e-6


@pytest.fixture(scope="module")
def midi() -> NoteCodec:
    return NoteCodec.load("midi")


@pytest.fixture(scope="module")
def perf() -> Performance:
    """A short piece (the codec measures every file it writes, pedals on a 1 ms grid: keep it short) with a 6 s
    silence (over DIRECT grid steps at every level), chords, a half-pedalled CC64 and an on/off CC67."""
    base = random_performance(160, seed=100, long_gaps=False, pedals=False, max_duration=3.0)
    onset = base.onset + np.where(np.arange(160) >= 80, 6.0, 0.0)
    rng = np.random.default_rng(101)
    end = float(onset[-1])
    pedals = {SUSTAIN: Pedal(np.sort(rng.uniform(0, end, 40)), rng.integers(0, 128, 40)),
              SOFT: Pedal(np.sort(rng.uniform(0, end, 6)), [127, 0] * 3)}
    return Performance(base.pitch, onset, onset + base.offset - base.onset, base.velocity, pedals)


PINNED_NOTES = {
    ("midi-v1", 1, None): "78e9e6c7174f491560e207fb396d36a7115917945c1fc67398383aff54038a47",
    ("midi-v1", 7, None): "27bb7daa04199d497fe73360d0c2e91f46c52fcd0428d835ef4c805ca56374c5",
    ("midi-v2", 3, None): "eaa61bb6db083a3a5f65a874f72e8e428b2e391627ad724d188fd27db7422bfe",
    ("midi-v2", 3, 1): "54ea900a4755393784867a597094093f62ece2212771eb312bea22c999f21123",
    ("midi-v2", 3, 3): "c333211fbc1d841602b63268cb243f7bebcde6b6b971123b266d6a91d76a27c2",
    ("midi-vq", 1, None): "a0656649131d38fba0eccd49f49b28937bffbd679acb1d9fcaa987ecd006a349",
    ("midi-vq", 3, None): "02ce36eb2714681c90399be296d5c15d96a774391fbee5497c3de51be875d527",
}
"""sha256 of the NOTE section written for `perf` (lanes None: what compress writes; else NC06 in that many lanes), by
the encoder as it was before its speed-ups: a change meant to keep the bytes must keep these."""


@pytest.mark.parametrize(("model", "quality", "lanes"), list(PINNED_NOTES))
def test_the_encoder_writes_the_same_note_bytes_as_ever(model: str, quality: int, lanes: int | None,
                                                         perf: Performance) -> None:
    codec = NoteCodec.load(model)
    if lanes is None:
        notes = midi_file.loads(codec.compress(perf, quality, name="piece").data, "piece").notes
    else:
        s, priors = codec.setting(quality), codec.bundle.priors(quality)
        notes = nc.encode(noterdo.choose(perf, s, priors), s, priors, nc.NC06, codec.bundle.prior(), lanes)
    assert hashlib.sha256(notes).hexdigest() == PINNED_NOTES[model, quality, lanes]


def test_compress_and_decode_are_deterministic(midi: NoteCodec, perf: Performance) -> None:
    a, report_a = midi.compress(perf, 3, name="piece")
    b, report_b = NoteCodec.load("midi").compress(perf, 3, name="piece")
    assert a == b and report_a.to_dict() == report_b.to_dict()
    x, y = midi.decode_file(vqc.loads(a)), midi.decode_file(vqc.loads(a))
    for field in ("pitch", "onset", "offset", "velocity"):
        np.testing.assert_array_equal(getattr(x, field), getattr(y, field))


@pytest.mark.parametrize("q", range(1, 8))
def test_every_level_round_trips_within_its_bounds(midi: NoteCodec, perf: Performance, q: int) -> None:
    s = midi.setting(q)
    data, report = midi.compress(perf, q, original_bytes=12345, name="piece")
    f = vqc.loads(data, "piece.vqc")
    assert (f.header.kind, f.header.n_samples, f.header.meta["quality"]) == ("midi", len(perf), q)
    assert f.header.model_sha256 == midi.model_id
    back = midi.decode_file(f, "piece.vqc")
    assert len(back) == len(perf) and report.n_decoded == len(perf)
    assert report.n_bytes == len(data) and report.original_bytes == 12345
    assert report.pitch_exact and report.n_paired == len(perf)
    assert report.f1_onset == 1.0
    assert report.onset_err_ms_max <= noterdo.onset_bound_ms(s) + EPS
    assert report.velocity_max_err <= noterdo.velocity_bound(s)
    assert set(report.pedal_agreement) == {SUSTAIN, SOFT} and min(report.pedal_agreement.values()) > 0.95
    # what was measured is the decoded file: recompute the onset bound directly
    np.testing.assert_array_equal(np.sort(back.pitch), np.sort(perf.pitch))
    assert np.max(np.abs(np.sort(back.onset) - np.sort(perf.onset))) <= noterdo.onset_bound_ms(s) / 1000 + 1e-9
    # the file keeps the headline metrics, rounded
    assert set(f.metrics) == set(STORED_METRICS)
    assert f.metrics["f1_onset"] == 1.0
    assert f.metrics["onset_err_ms_max"] == pytest.approx(report.onset_err_ms_max, rel=1e-3)


@pytest.mark.parametrize("q", range(1, 8))
def test_every_level_keeps_durations_within_its_ratio(midi: NoteCodec, perf: Performance, q: int) -> None:
    """The median relative duration error of a level is at most sqrt(ratio) - 1 (durations here are <= 3 s)."""
    _, report = midi.compress(perf, q)
    assert report.duration_rel_err_median <= np.sqrt(midi.setting(q).duration_milli / 1000) - 1 + EPS


def test_higher_levels_cost_more_bits(midi: NoteCodec, perf: Performance) -> None:
    size = {q: len(midi.compress(perf, q)[0]) for q in (1, 4, 7)}
    assert size[1] < size[4] < size[7]


def test_default_quality_is_the_manifests(midi: NoteCodec, perf: Performance) -> None:
    data, _ = midi.compress(perf)
    assert vqc.loads(data).header.meta["quality"] == midi.default_quality == 3


def test_a_setting_outside_the_ladder_is_a_format_error(midi: NoteCodec, perf: Performance) -> None:
    data, _ = midi.compress(perf, 3)
    f = vqc.loads(data)
    notes = bytearray(f.notes)
    notes[4:6] = (17).to_bytes(2, "little")  # grid 17 ms: a valid setting, but no level of the model
    f.notes = bytes(notes)
    with pytest.raises(FormatError, match=f"not a level of model {midi.name}"):
        midi.decode_file(vqc.loads(vqc.dumps(f)), "piece.vqc")


# ------------------------------------------------------------------------------------------- bundle identity


def test_a_file_decoded_with_another_bundle_is_a_model_mismatch(midi: NoteCodec, perf: Performance,
                                                               tmp_path: Path) -> None:
    other = NoteCodec.load(copied_bundle(tmp_path))
    assert other.name == "midi-other" and other.model_id != midi.model_id  # the id is the manifest's sha256
    data, _ = midi.compress(perf, 2)
    with pytest.raises(ModelMismatchError) as e:
        other.decode_file(vqc.loads(data), "piece.vqc")
    assert str(e.value).startswith("piece.vqc: ")
    assert midi.model_id in str(e.value) and other.model_id in str(e.value)
    with pytest.raises(ModelMismatchError, match=other.model_id):
        api.decompress(data, tmp_path / "midi-other", name="piece.vqc")
    # and the other way: a file of the copy is refused by midi-v1, and not found among the installed models
    theirs, _ = other.compress(perf, 2)
    with pytest.raises(ModelMismatchError, match=midi.model_id):
        midi.decode_file(vqc.loads(theirs), "theirs.vqc")
    with pytest.raises(ModelNotFoundError, match=other.model_id):
        api.decompress(theirs, None, name="theirs.vqc")
    assert isinstance(api.decompress(theirs, other, name="theirs.vqc"), Performance)


def test_a_tampered_priors_file_fails_at_load(tmp_path: Path) -> None:
    folder = copied_bundle(tmp_path)
    NoteCodec.load(folder)  # intact copy loads
    priors = folder / "priors-q3.npz"
    raw = bytearray(priors.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    priors.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="priors-q3.npz: missing, or its sha256 does not match"):
        NoteCodec.load(folder)
    priors.unlink()
    with pytest.raises(BundleError, match="priors-q3.npz"):
        NoteCodec.load(folder)


def test_an_ecg_bundle_is_not_a_midi_model() -> None:
    with pytest.raises(BundleError, match="a model for ecg files, not midi"):
        NoteCodec.load("ecg")


# ----------------------------------------------------------------------------------- meta events and pedal depth

META = [MetaEvent(0.0, 0x51, (600000).to_bytes(3, "big")), MetaEvent(0.0, 0x58, bytes([3, 2, 24, 8])),
        MetaEvent(0.0, 0x03, b"Piano", 1), MetaEvent(0.0, 0x59, bytes([0xFD, 1])),
        MetaEvent(1.2345678901234, 0x06, b"B \xe9\x00\xff"), MetaEvent(2.5, 0x51, (450000).to_bytes(3, "big")),
        MetaEvent(9.75, 0x01, b"", 3), MetaEvent(1e4, 0x07, b"after the last note")]


def test_meta_events_come_back_exactly_at_every_level(midi: NoteCodec) -> None:
    small = random_performance(30, seed=102, long_gaps=False)
    perf = Performance(small.pitch, small.onset, small.offset, small.velocity, small.pedals, meta=META)
    for q in midi.qualities:
        data, _ = midi.compress(perf, q, name="meta")
        f = vqc.loads(data, "meta.vqc")
        assert f.events == META and data[8:12] == bytes([1, 0, midi_file.EVENTS_MINOR, 0])
        assert midi.decode_file(f).meta == META  # times bit for bit
    plain, _ = midi.compress(small, 3)
    assert b"eVNT" not in plain and midi.decompress(plain).meta == []


def test_pedal_depth_is_kept_on_the_level_s_pedal_levels(midi: NoteCodec, perf: Performance) -> None:
    """The default level keeps a few levels of depth (PEDAL_BIN_VELOCITY_STEPS), the top level every value; the
    up/down state is never lost, and the report measures the depth error."""
    assert [midi.pedal_levels(q) for q in midi.qualities] == [6, 6, 6, 8, 10, 16, 128]
    errors = []
    for q in (1, 3, midi.n_levels):
        levels = midi.pedal_levels(q)
        data, report = midi.compress(perf, q)
        back = midi.decompress(data)
        assert set(back.pedals[SUSTAIN].value.tolist()) <= set(nc.level_values(levels).tolist())
        assert len(set(back.pedals[SUSTAIN].value.tolist())) > 2  # half-pedalling, not on/off
        assert report.pedal_depth_mae[SUSTAIN] <= 128 / levels / 2 + 1
        errors.append(report.pedal_depth_mae[SUSTAIN])
    assert errors[-1] < errors[1] <= errors[0] and errors[-1] < 1


def test_the_meta_section_is_checked_against_its_limits_and_rules(midi: NoteCodec) -> None:
    """eVNT is read as the container reads anything: the frame's declared size and the event count checked against
    the limits before anything is allocated, then every event whole and valid, in time order, nothing left over."""
    small = random_performance(5, seed=103, long_gaps=False, pedals=False)
    data, _ = midi.compress(Performance(small.pitch, small.onset, small.offset, small.velocity, meta=META))
    head = vqc.read(data)

    def with_events(raw: bytes, declare: bool = True) -> bytes:
        frame = zstandard.ZstdCompressor(write_content_size=declare).compress(raw)
        sections = [(t, frame if t == "eVNT" else bytes(v)) for t, v in head.sections.items() if t != "bIND"]
        return vqc.write(head.header, sections)

    raw = zstandard.ZstdDecompressor().decompress(bytes(head.sections["eVNT"]))
    assert midi.decompress(with_events(raw)).meta == META
    event = struct.Struct("<dHBI")  # time, track, type, length, as docs/FORMAT.md lays it out
    one = struct.pack("<I", 1) + event.pack(0.0, 0, 0x06, 1) + b"x"
    cases = {
        "no content size": (with_events(raw, declare=False), FormatError, "does not declare its content size"),
        "declares too much": (with_events(bytes(midi_file.MAX_META_BYTES + 1)), LimitError, "over the limit"),
        "too many": (with_events(struct.pack("<I", midi_file.MAX_META_EVENTS + 1)), LimitError, "over the limit"),
        "count too large for the bytes": (with_events(struct.pack("<I", 3) + one[4:]), FormatError, "cannot hold"),
        "cut event": (with_events(one[:-1]), FormatError, "does not hold"),
        "trailing bytes": (with_events(one + b"\0"), FormatError, "after the last event"),
        "no count": (with_events(b"\0\0"), FormatError, "no event count"),
        "end of track": (with_events(one.replace(bytes([0x06]), bytes([0x2F]), 1)), FormatError, "0x2f"),
        "NaN time": (with_events(struct.pack("<I", 1) + event.pack(float("nan"), 0, 6, 0)), FormatError, "time"),
        "out of order": (with_events(struct.pack("<I", 2) + event.pack(1.0, 0, 6, 0) + event.pack(0.5, 0, 6, 0)),
                         FormatError, "earlier than"),
        "bad tempo": (with_events(struct.pack("<I", 1) + event.pack(0.0, 0, 0x51, 2) + b"\1\2"), FormatError,
                      "tempo"),
    }
    for bad, error, says in cases.values():
        with pytest.raises(error, match=f"^bad.vqc: section eVNT: .*{says}"):
            midi.decompress(bad, "bad.vqc")
    with pytest.raises(ValueError, match="over the limit"):
        midi_file.events_bytes([MetaEvent(0.0, 0x01, b"x")] * (midi_file.MAX_META_EVENTS + 1))


# ------------------------------------------------------------------------------------------------ public api


def test_api_compress_decompress_and_info(perf: Performance, tmp_path: Path) -> None:
    data = api.compress(perf)
    back = api.decompress(data)
    assert isinstance(back, Performance) and len(back) == len(perf)
    assert sorted(back.pedals) == sorted(perf.pedals)
    levels = NoteCodec.load("midi").pedal_levels(3)
    assert set(back.pedals[SUSTAIN].value.tolist()) <= set(nc.level_values(levels).tolist())  # half-pedal depth
    assert np.all(back.pedals[SOFT].value[::2] == 127) and np.all(back.pedals[SOFT].value[1::2] == 0)  # on/off
    assert api.compress(perf, quality=5) != data
    with pytest.raises(ValueError, match="max_error"):
        api.compress(perf, max_error=0)
    (tmp_path / "p.vqc").write_bytes(data)
    i = api.info(tmp_path / "p.vqc")
    assert (i.kind, i.model, i.quality, i.n_samples, i.n_bytes) == ("midi", "midi-v2", 3, len(perf), len(data))
    assert i.duration == pytest.approx(perf.end, abs=1e-3)
    assert any("bits/note" in line for line in i.lines())


def test_an_empty_performance_round_trips(midi: NoteCodec) -> None:
    data, report = midi.compress(Performance([], [], [], []))
    assert len(api.decompress(data)) == 0 and report.n_notes == 0


# --------------------------------------------------------------------------------------------------- real data


def test_an_asap_test_piece_round_trips_at_the_default_level(data_dir: Path, midi: NoteCodec) -> None:
    from vqcodec.io import read_midi

    folder = data_dir / "midi" / "asap"
    name = json.loads((folder / "SPLITS.json").read_text())["test"][0]
    assert any(r["file"] == name for r in csv.DictReader((folder / "index.csv").open()))
    real = read_midi(folder / name)
    s = midi.setting(midi.default_quality)
    data, report = midi.compress(real, original_bytes=(folder / name).stat().st_size, name=Path(name).stem)
    back = midi.decode_file(vqc.loads(data))
    assert len(back) == len(real) and report.pitch_exact and report.f1_onset == 1.0
    assert report.onset_err_ms_max <= noterdo.onset_bound_ms(s) + EPS
    assert report.velocity_max_err <= noterdo.velocity_bound(s)
    assert report.bits_per_note < 32 and report.cr_mid > 3
    assert min(report.pedal_agreement.values()) > 0.95


@pytest.mark.parametrize("name", ["Haydn__Keyboard_Sonatas__39-2__Yarden07.mid", "Chopin__Etudes_op_25__1__LeeN03M.mid",
                                  "Beethoven__Piano_Sonatas__18-2__ChenGuang04.mid"])
def test_asap_meta_events_survive_compress_decompress(data_dir: Path, midi: NoteCodec, name: str,
                                                      tmp_path: Path) -> None:
    """Real files with a key signature, track and instrument names in two tracks, and text: mido reads the same meta
    messages in the decoded .mid as in the original (the sequencer-specific, SMPTE-offset and channel-prefix events
    are dropped, and counted)."""
    from vqcodec.io import read_midi, write_midi

    path = data_dir / "midi" / "asap" / name
    real = read_midi(path)
    assert {e.type for e in real.meta} >= {0x51, 0x58, 0x03}
    data, _ = midi.compress(real, name=path.stem)
    write_midi(tmp_path / "back.mid", midi.decompress(data))
    assert_same_meta(path, tmp_path / "back.mid")
