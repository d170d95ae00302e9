"""NoteCodec with the shipped midi-v1 bundle: determinism, every quality level's bounds measured on the decoded
file, bundle identity (another id is a mismatch, a tampered file fails at load), the public api."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.bundles import copied_bundle
from tests.helpers.notes import random_performance
from vqcodec import api
from vqcodec.container import format as vqc
from vqcodec.errors import (
    BundleError,
    FormatError,
    ModelMismatchError,
    ModelNotFoundError,
)
from vqcodec.midi import choice as noterdo
from vqcodec.midi.codec import STORED_METRICS, NoteCodec
from vqcodec.midi.performance import SOFT, SUSTAIN, Pedal, Performance

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
    notes[4:6] = (17).to_bytes(2, "little")  # grid 17 ms: a valid setting, but no level of midi-v1
    f.notes = bytes(notes)
    with pytest.raises(FormatError, match="not a level of model midi-v1"):
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


# ------------------------------------------------------------------------------------------------ public api


def test_api_compress_decompress_and_info(perf: Performance, tmp_path: Path) -> None:
    data = api.compress(perf)
    back = api.decompress(data)
    assert isinstance(back, Performance) and len(back) == len(perf)
    assert sorted(back.pedals) == sorted(perf.pedals)
    assert np.all(back.pedals[SUSTAIN].value[::2] == 127) and np.all(back.pedals[SUSTAIN].value[1::2] == 0)
    assert api.compress(perf, quality=5) != data
    with pytest.raises(ValueError, match="max_error"):
        api.compress(perf, max_error=0)
    (tmp_path / "p.vqc").write_bytes(data)
    i = api.info(tmp_path / "p.vqc")
    assert (i.kind, i.model, i.quality, i.n_samples, i.n_bytes) == ("midi", "midi-v1", 3, len(perf), len(data))
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
