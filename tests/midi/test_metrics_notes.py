"""MIDI note metrics (compare_notes) on small hand-made performances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vqcodec.metrics import (
    PAIRED_BY_MIR_EVAL,
    PAIRED_BY_RANK,
    compare_notes,
    note_f1,
    pairs_all_match,
)
from vqcodec.midi.performance import SUSTAIN, Pedal, Performance


def _perf(onset_shift: dict[int, float] | None = None, velocity: dict[int, int] | None = None,
          drop: int | None = None, pedal: tuple[list[float], list[int]] | None = None) -> Performance:
    """Eight notes over 4 s (two of pitch 60, a chord), sustain down 0.5–2.0 s; note k shifted/changed as asked."""
    pitch = np.array([60, 64, 67, 60, 62, 72, 48, 65])
    onset = np.array([0.0, 0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    offset = onset + np.array([0.4, 0.6, 0.6, 0.3, 0.2, 1.0, 1.5, 0.01])
    vel = np.array([64, 70, 80, 90, 50, 40, 100, 30])
    for k, dt in (onset_shift or {}).items():
        onset[k] += dt
        offset[k] += dt
    for k, v in (velocity or {}).items():
        vel[k] = v
    keep = np.arange(len(pitch)) != drop
    times, values = pedal or ([0.5, 2.0], [127, 0])
    return Performance(pitch[keep], onset[keep], offset[keep], vel[keep], {SUSTAIN: Pedal(times, values)})


def test_identical_performances_are_perfect():
    r = compare_notes(_perf(), _perf(), n_bytes=10, original_bytes=200, zstd_bytes=40)
    assert r.n_notes == r.n_decoded == r.n_paired == 8 and r.pitch_exact and r.paired_by == PAIRED_BY_RANK
    assert r.f1_onset == 1.0 and r.f1_offset == 1.0
    assert r.onset_err_ms_max == 0.0 and r.onset_err_ms_median == 0.0 and r.onset_err_ms_p95 == 0.0
    assert r.duration_err_ms_median == 0.0 and r.duration_err_ms_p95 == 0.0 and r.duration_rel_err_median == 0.0
    assert r.velocity_mae == 0.0 and r.velocity_max_err == 0
    assert r.pedal_agreement == {SUSTAIN: 1.0} and r.pedal_events == {SUSTAIN: (2, 2)}
    assert r.bits_per_note == 10.0 and r.cr_mid == 20.0 and r.cr_zstd == 4.0
    assert r.duration_s == pytest.approx(4.0)


def test_an_onset_30_ms_late_is_measured_and_still_matches():
    r = compare_notes(_perf(), _perf(onset_shift={3: 0.030}), n_bytes=10)
    assert r.paired_by == PAIRED_BY_RANK
    assert r.onset_err_ms_max == pytest.approx(30.0, abs=0.01)
    assert r.onset_err_ms_median == 0.0
    assert r.duration_err_ms_p95 == pytest.approx(0.0, abs=1e-6)  # offset moved with the onset
    assert r.f1_onset == 1.0 and r.f1_offset == 1.0


def test_an_onset_80_ms_late_misses_the_50_ms_tolerance():
    r = compare_notes(_perf(), _perf(onset_shift={3: 0.080}), n_bytes=10)
    assert r.onset_err_ms_max == pytest.approx(80.0, abs=0.01)
    assert r.f1_onset == pytest.approx(7 / 8) and r.f1_onset < 1.0  # 7 of 8 notes match on both sides


def test_velocity_change_is_measured_exactly():
    r = compare_notes(_perf(), _perf(velocity={0: 61, 5: 47}), n_bytes=10)  # -3 and +7
    assert r.velocity_max_err == 7 and r.velocity_mae == pytest.approx(10 / 8)
    assert r.f1_onset == 1.0


def test_a_dropped_note_falls_back_to_mir_eval_matching():
    r = compare_notes(_perf(), _perf(drop=3), n_bytes=10)
    assert not r.pitch_exact and r.paired_by == PAIRED_BY_MIR_EVAL
    assert r.n_paired == 7 and r.onset_err_ms_max == 0.0
    assert r.f1_onset == pytest.approx(2 * 7 / 15)  # precision 7/7, recall 7/8


def test_pedal_agreement_is_the_fraction_of_time_in_the_same_state():
    # sustain down 0.5–2.0 s in the original, 0.5–1.6 s decoded: they disagree 0.4 s of the 4 s piece
    r = compare_notes(_perf(), _perf(pedal=([0.5, 1.0, 1.6], [127, 100, 10])), n_bytes=10)
    assert r.pedal_agreement[SUSTAIN] == pytest.approx(1 - 0.4 / 4.0, abs=1e-3)
    assert r.pedal_events == {SUSTAIN: (2, 3)}
    missing = Performance([60], [0.0], [1.0], [64])
    r = compare_notes(_perf(), missing, n_bytes=10)
    assert r.pedal_agreement[SUSTAIN] == pytest.approx(1 - 1.5 / 4.0, abs=1e-3)
    assert r.pedal_events == {SUSTAIN: (2, 0)}


def test_pedal_depth_error_is_the_mean_value_error_over_time():
    """Half-pedalling: both down (>= 64) from 0.5 s to 2.0 s, so they agree on up/down all the time, yet the depth
    differs by 27 for 1.5 s of the 4 s piece; a pedal left out counts as up (0)."""
    r = compare_notes(_perf(), _perf(pedal=([0.5, 2.0], [100, 0])), n_bytes=10)
    assert r.pedal_agreement[SUSTAIN] == 1.0
    assert r.pedal_depth_mae[SUSTAIN] == pytest.approx(27 * 1.5 / 4.0, abs=0.02)
    assert compare_notes(_perf(), _perf(), n_bytes=10).pedal_depth_mae == {SUSTAIN: 0.0}
    r = compare_notes(_perf(), Performance([60], [0.0], [1.0], [64]), n_bytes=10)
    assert r.pedal_depth_mae[SUSTAIN] == pytest.approx(127 * 1.5 / 4.0, abs=0.1)
    assert "pedal depth error 47.6" in r.summary()


def test_f1_per_pitch_equals_mir_eval_on_the_whole_piece():
    from mir_eval.transcription import precision_recall_f1_overlap
    from mir_eval.util import midi_to_hz

    rng = np.random.default_rng(0)
    n = 300
    pitch = rng.integers(55, 67, n)
    onset = np.sort(rng.uniform(0, 30, n))
    offset = onset + rng.uniform(0.02, 1.0, n)
    a = Performance(pitch, onset, offset, np.full(n, 64))
    b_onset = np.maximum(onset + rng.normal(0, 0.04, n), 0)
    b = Performance(pitch, b_onset, np.maximum(offset + rng.normal(0, 0.08, n), b_onset + 0.01), np.full(n, 64))
    for offsets in (False, True):
        ref = precision_recall_f1_overlap(
            np.stack([a.onset, a.offset], 1), midi_to_hz(a.pitch.astype(float)),
            np.stack([b.onset, b.offset], 1), midi_to_hz(b.pitch.astype(float)),
            onset_tolerance=0.05, offset_ratio=0.2 if offsets else None, offset_min_tolerance=0.05)[2]
        assert 0.3 < ref < 1.0
        assert note_f1(a, b, offsets) == pytest.approx(ref, abs=1e-12)


def test_empty_performances_do_not_crash():
    empty = Performance([], [], [], [])
    r = compare_notes(empty, empty, n_bytes=5)
    assert r.n_notes == 0 and r.bits_per_note is None and r.f1_onset is None and r.f1_offset is None
    assert r.onset_err_ms_max is None and r.velocity_mae is None and r.pedal_agreement == {}
    assert "0 notes" in r.summary() and "n/a" in r.summary()
    json.dumps(r.to_dict(), allow_nan=False)
    r = compare_notes(_perf(), empty, n_bytes=5)
    assert r.f1_onset == 0.0 and r.n_paired == 0 and r.onset_err_ms_median is None
    r = compare_notes(empty, _perf(), n_bytes=5)
    assert r.f1_onset == 0.0 and r.bits_per_note is None


def test_zero_length_notes_are_accepted():
    p = Performance([60, 62], [0.0, 1.0], [0.0, 1.5], [64, 64])
    r = compare_notes(p, p, n_bytes=4)
    assert r.f1_onset == 1.0 and r.f1_offset == 1.0 and r.duration_rel_err_median == 0.0


def test_report_serialises_to_strict_json_and_one_line():
    r = compare_notes(_perf(), _perf(onset_shift={1: 0.0123456789}), n_bytes=7, original_bytes=300)
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["onset_err_ms_max"] == pytest.approx(12.3457) and d["cr_zstd"] is None
    assert d["pedal_agreement"] == {str(SUSTAIN): 1.0} and d["pedal_events"] == {str(SUSTAIN): [2, 2]}
    line = r.summary()
    assert "\n" not in line and "8 notes" in line and "7.00 bits/note" in line and "12.35 ms" in line


def test_the_f1_without_mir_eval_is_mir_evals_wherever_the_rank_pairs_all_match():
    original = _perf()
    # onsets (and with them offsets) moved to just inside, exactly on, just outside and far outside the tolerance;
    # note 7 lasts 10 ms, so its offset tolerance is the 50 ms floor, note 6 lasts 1.5 s (300 ms by ratio)
    for shift in ({}, {0: 0.049}, {0: 0.05}, {0: 0.0500001}, {3: -0.06}, {6: 0.3}, {7: 0.04, 1: -0.03}):
        decoded = _perf(onset_shift=shift)
        report = compare_notes(original, decoded, n_bytes=10)
        assert report.paired_by == PAIRED_BY_RANK
        assert report.f1_onset == note_f1(original, decoded, offsets=False)  # the latter runs mir_eval
        assert report.f1_offset == note_f1(original, decoded, offsets=True)
    moved = _perf()
    moved.offset[6] += 0.29  # offset only: inside 20 % of 1.5 s, outside 50 ms
    report = compare_notes(original, moved, n_bytes=10)
    assert (report.f1_onset, report.f1_offset) == (note_f1(original, moved, False), note_f1(original, moved, True))
    assert pairs_all_match(original, _perf(onset_shift={0: 0.05}), (np.arange(8), np.arange(8)), offsets=True)
    assert not pairs_all_match(original, _perf(onset_shift={6: 0.3}), (np.arange(8), np.arange(8)), offsets=False)
    assert not pairs_all_match(original, _perf(), (np.arange(8), np.roll(np.arange(8), 1)), offsets=False)  # pitches


def test_the_f1_is_mir_evals_when_mir_eval_runs_for_the_pitches_whose_pairs_miss_only():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n = 60
        pitch = rng.integers(55, 66, n)  # a few notes a pitch, so a pitch's pairs miss now and then
        onset = np.sort(rng.uniform(0, 10, n))
        original = Performance(pitch, onset, onset + rng.uniform(0.01, 1.0, n), rng.integers(1, 128, n), {})
        moved = np.abs(onset + rng.normal(0, 0.03, n))
        keep = rng.random(n) > (0.05 if trial % 2 else 0.0)  # every other piece drops notes: mir_eval's pairs
        decoded = Performance(pitch[keep], moved[keep], (moved + (original.offset - onset) * rng.uniform(0.7, 1.3, n))
                              [keep], original.velocity[keep], {})
        report = compare_notes(original, decoded, n_bytes=10)
        assert report.paired_by == (PAIRED_BY_MIR_EVAL if trial % 2 and not keep.all() else PAIRED_BY_RANK)
        assert report.f1_onset == note_f1(original, decoded, offsets=False)  # the latter runs mir_eval for every pitch
        assert report.f1_offset == note_f1(original, decoded, offsets=True)
        assert report.f1_offset is not None and 0 < report.f1_offset < 1
