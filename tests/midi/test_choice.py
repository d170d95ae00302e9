"""noterdo.choose: every choice within its stated tolerance at every level, pitches exact, no drift over a long
piece, and fewer bits than plain rounding under the shipped priors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.notes import random_performance
from vqcodec.midi import choice as noterdo
from vqcodec.midi import coder as nc
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance

EPS = 1e-9


@pytest.fixture(scope="module")
def midi() -> NoteCodec:
    return NoteCodec.load("midi")


def by_pitch(perf: Performance) -> np.ndarray:
    """Notes ordered by (pitch, onset): a note keeps its rank among its pitch's notes, so this pairs them."""
    return np.lexsort((perf.onset, perf.pitch))


def check_bounds(perf: Performance, s: nc.NoteSetting, sym: nc.Symbols) -> None:
    back = nc.rebuild(sym, s)
    a, b = by_pitch(perf), by_pitch(back)
    np.testing.assert_array_equal(perf.pitch[a], back.pitch[b])
    assert np.max(np.abs(back.onset[b] - perf.onset[a])) <= noterdo.onset_bound_ms(s) / 1000 + EPS
    v = np.abs(back.velocity[b].astype(int) - perf.velocity[a].astype(int))
    assert v.max() <= noterdo.velocity_bound(s)
    d, d_back = (perf.offset - perf.onset)[a], (back.offset - back.onset)[b]
    floor = d < nc.DURATION_FLOOR
    nearest = np.abs(np.log(d_back / np.maximum(d, nc.DURATION_FLOOR))) <= 0.5 * np.log(s.duration_milli / 1000) + EPS
    assert np.all(nearest | (np.abs(d_back - d) <= noterdo.duration_bound_s(s, d) + EPS) | floor)
    assert np.all(np.diff(np.cumsum(sym.gap)) >= 0)


@pytest.mark.parametrize("q", range(1, 8))
def test_every_choice_is_within_its_tolerance(midi: NoteCodec, q: int) -> None:
    s = midi.setting(q)
    perf = random_performance(1200, seed=50 + q, max_duration=3.0)
    check_bounds(perf, s, noterdo.choose(perf, s, midi.bundle.priors(q)))


def test_onsets_stay_bounded_over_a_long_piece(midi: NoteCodec) -> None:
    """The tolerance is against the absolute onset, so the last notes of 40 minutes are as close as the first."""
    q = midi.default_quality
    s = midi.setting(q)
    rng = np.random.default_rng(7)
    n = 20_000
    onset = np.cumsum(np.where(rng.random(n) < 0.3, rng.uniform(0, 0.02, n), rng.exponential(0.15, n)))
    perf = Performance(rng.integers(21, 109, n), onset, onset + 0.3, rng.integers(1, 128, n))
    sym = noterdo.choose(perf, s, midi.bundle.priors(q))
    check_bounds(perf, s, sym)
    back = nc.rebuild(sym, s)
    assert abs(back.onset.max() - onset[-1]) <= noterdo.onset_bound_ms(s) / 1000 + EPS


@pytest.mark.parametrize("q", [1, 3, 5])
def test_choosing_costs_fewer_bits_than_rounding(midi: NoteCodec, q: int) -> None:
    s, priors = midi.setting(q), midi.bundle.priors(q)
    perf = random_performance(1500, seed=60 + q, max_duration=3.0)
    chosen = nc.encode(noterdo.choose(perf, s, priors), s, priors)
    rounded = nc.encode(nc.quantise(perf, s), s, priors)
    assert len(chosen) < len(rounded)


def test_an_empty_performance_is_empty(midi: NoteCodec) -> None:
    empty = Performance(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0, int))
    sym = noterdo.choose(empty, midi.setting(3), midi.bundle.priors(3))
    assert len(sym.gap) == len(sym.pitch) == 0


@settings(max_examples=60, deadline=None)
@given(q=st.integers(1, 7), seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60),
       chord=st.floats(0, 1), spread_ms=st.sampled_from([0.0, 2.0, 30.0]))
def test_any_performance_stays_within_its_tolerance_and_decodes_to_the_choice(
        midi: NoteCodec, q: int, seed: int, n: int, chord: float, spread_ms: float) -> None:
    """Hypothesis: ties, near-ties and chords at any level, any velocity and duration (1 ms to 10 s)."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n) < chord, rng.uniform(0, spread_ms / 1000, n), rng.exponential(0.2, n))
    onset = np.cumsum(gaps)
    perf = Performance(rng.integers(21, 109, n), onset, onset + np.exp(rng.uniform(np.log(1e-3), np.log(10), n)),
                       rng.integers(1, 128, n))
    s, priors = midi.setting(q), midi.bundle.priors(q)
    sym = noterdo.choose(perf, s, priors)
    check_bounds(perf, s, sym)
    back, _ = nc.decode(nc.encode(sym, s, priors), n, priors, "h.vqc")
    for field in ("gap", "pitch", "velocity", "duration"):
        np.testing.assert_array_equal(getattr(back, field), getattr(sym, field))
