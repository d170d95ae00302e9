"""The NOTE section coder (vqcodec.midi.coder): exact symbol round trips, bounded rebuild errors, damage detection.

Performances are synthetic (seeded numpy generators); the priors are the shipped midi-v1 bundle's.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from functools import cache

import numpy as np
import pytest

from tests.helpers.notes import assert_symbols_equal, random_performance
from vqcodec.errors import FormatError, LimitError, VqcError
from vqcodec.midi import coder as nc
from vqcodec.midi.performance import MIDI_MAX, SOFT, SOSTENUTO, SUSTAIN, Pedal, Performance
from vqcodec.models.bundle import NoteBundle, load_note_bundle

LEVELS = range(1, 8)
EPS = 1e-9
HEAD = struct.Struct("<4sHBHB")  # the NOTE header as docs/FORMAT.md lays it out
LEVELS_HEAD = struct.Struct("<B")  # NC05: the pedal level count, after HEAD
PEDAL_HEAD = struct.Struct("<BI")


@cache
def bundle() -> NoteBundle:
    return load_note_bundle("midi")


@cache
def priors(q: int) -> dict[str, np.ndarray]:
    return bundle().priors(q)


def setting(q: int) -> nc.NoteSetting:
    level = bundle().level(q)
    return nc.NoteSetting(level["grid_ms"], level["velocity_step"], level["duration_milli"])


def round_trip(sym: nc.Symbols, q: int) -> bytes:
    s = setting(q)
    payload = nc.encode(sym, s, priors(q))
    back, s_back = nc.decode(payload, len(sym.gap), priors(q), "piece.vqc")
    assert s_back == s
    assert_symbols_equal(back, sym)
    return payload


def crc_offset(payload: bytes) -> int:
    """Where the symbols' CRC starts (after the header, NC05's level count and the pedal table)."""
    coding, *_, n_pedals = HEAD.unpack_from(payload)
    return HEAD.size + (LEVELS_HEAD.size if coding == nc.NOTE_CODING else 0) + n_pedals * PEDAL_HEAD.size


# ------------------------------------------------------------------------------------------- exact round trips


CASES = {
    "random": lambda: random_performance(300, seed=1),
    "empty": lambda: Performance([], [], [], []),
    "one note": lambda: Performance([60], [0.3], [0.8], [70]),
    "one note after an hour": lambda: Performance([108], [3600.0], [3601.0], [127]),
    "chords only": lambda: Performance(np.tile([48, 52, 55, 60], 25), np.repeat(np.arange(25) * 0.5, 4),
                                       np.repeat(np.arange(25) * 0.5 + 0.4, 4), np.full(100, 64)),
    "pedals only": lambda: random_performance(0, seed=2),
}


@pytest.mark.parametrize("q", [1, 3, 7])
@pytest.mark.parametrize("case", CASES)
def test_symbols_round_trip_exactly(case: str, q: int) -> None:
    perf = CASES[case]()
    sym = nc.quantise(perf, setting(q))
    assert len(sym.gap) == len(perf)
    round_trip(sym, q)
    if case == "random":
        assert (sym.gap >= nc.DIRECT).sum() >= 3, "the long gaps must take the escape"
        assert (sym.gap == 0).sum() > 30, "chords: notes on one grid step"
        assert sorted(sym.pedals) == [SUSTAIN, SOSTENUTO, SOFT] and len(sym.pedals[SOSTENUTO]) == 0
        assert sym.pedals[SOFT].max() >= nc.DIRECT and len(sym.pedals[SUSTAIN]) > 10


def test_edge_symbols_round_trip_exactly() -> None:
    """Gaps at 0, DIRECT - 1, DIRECT (escape of 0), DIRECT + 1 and the largest an escape holds; extreme pitch,
    velocity and duration levels; pedal gaps likewise."""
    q = 4
    s = setting(q)
    big = (1 << 8 * nc.ESCAPE_BYTES) - 1 + nc.DIRECT
    gap = np.array([0, nc.DIRECT - 1, nc.DIRECT, nc.DIRECT + 1, big, 0, 1, 0])
    n = len(gap)
    pitch = np.array([0, MIDI_MAX, 60, 0, MIDI_MAX, 61, 62, 63])
    velocity = np.array([0, s.velocity_levels - 1, 1, 0, s.velocity_levels - 1, 3, 3, 3])
    duration = np.array([0, s.duration_levels - 1, 0, 5, s.duration_levels - 1, 0, 0, 1])
    pedals = {SUSTAIN: np.array([0, nc.DIRECT, big, 1, 0]), 0: np.array([nc.DIRECT - 1]), MIDI_MAX: np.zeros(0, int)}
    sym = nc.Symbols(gap, pitch, velocity, duration, pedals)
    assert len(sym.pitch) == n
    round_trip(sym, q)


def test_nc04_codes_an_escape_in_fewer_bits_than_four_raw_bytes() -> None:
    """A pedal held for 2-60 s: NC04 pays its excess's bit length and mantissa, NC03 a flat 32 bits."""
    s = setting(3)
    rng = np.random.default_rng(5)
    gaps = nc.DIRECT + np.exp(rng.uniform(0, np.log(3500), 300)).astype(np.int64)
    sym = nc.Symbols(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                     {SUSTAIN: gaps})
    nc04, nc03 = nc.encode(sym, s, priors(3)), nc.encode(sym, s, priors(3), nc.NC03)
    assert len(nc04) < 0.6 * len(nc03)
    assert_symbols_equal(nc.decode(nc04, 0, priors(3), "long.vqc")[0], sym)


def test_symbols_round_trip_under_flat_priors_too() -> None:
    """All-zero prior counts still leave every symbol codable (add-one)."""
    q = 2
    sym = nc.quantise(random_performance(200, seed=3), setting(q))
    flat = {k: np.zeros_like(v) for k, v in priors(q).items()}
    payload = nc.encode(sym, setting(q), flat)
    assert_symbols_equal(nc.decode(payload, len(sym.gap), flat, "x")[0], sym)


def test_encoding_is_deterministic() -> None:
    sym = nc.quantise(random_performance(500, seed=4), setting(3))
    assert nc.encode(sym, setting(3), priors(3)) == nc.encode(sym, setting(3), priors(3))


# ------------------------------------------------------------------------------------------ rebuild error bounds


def paired(perf: Performance, s: nc.NoteSetting) -> tuple[np.ndarray, Performance, np.ndarray]:
    """(order of the original's notes as coded, rebuilt performance, original onset steps in that order)."""
    step = s.grid_ms / 1000
    on = np.floor(perf.onset / step + 0.5).astype(np.int64)
    order = np.lexsort((perf.pitch, on))
    return order, nc.rebuild(nc.quantise(perf, s), s), on[order]


@pytest.mark.parametrize("q", LEVELS)
def test_rebuild_onset_velocity_pitch_errors_are_bounded(q: int) -> None:
    s = setting(q)
    perf = random_performance(1500, seed=10 + q)
    order, back, steps = paired(perf, s)
    assert len(back) == len(perf)
    step = s.grid_ms / 1000
    assert np.max(np.abs(back.onset - perf.onset[order])) <= step / 2 + EPS
    assert np.max(np.abs(back.velocity.astype(int) - perf.velocity[order].astype(int))) <= s.velocity_step / 2
    assert back.velocity.min() >= 1 and back.velocity.max() <= MIDI_MAX
    # pitches exact: the same multiset of pitches on every grid step
    back_steps = np.floor(back.onset / step + 0.5).astype(np.int64)
    assert Counter(zip(back_steps.tolist(), back.pitch.tolist())) == Counter(zip(steps.tolist(),
                                                                                 perf.pitch[order].tolist()))


@pytest.mark.parametrize("q", LEVELS)
def test_rebuild_durations_are_within_the_level_ratio(q: int) -> None:
    """|log(d'/d)| <= log(sqrt(ratio)) for every note of duration >= DURATION_FLOOR, up to 8 s (pedalled notes)."""
    s = setting(q)
    perf = random_performance(1500, seed=20 + q, max_duration=8.0)
    order, back, _ = paired(perf, s)
    d = (perf.offset - perf.onset)[order]
    d_back = back.offset - back.onset
    assert np.all(d_back >= nc.DURATION_FLOOR * (1 - EPS))
    long = d >= nc.DURATION_FLOOR
    assert long.sum() > 1000
    worst = np.max(np.abs(np.log(d_back[long] / d[long])))
    assert worst <= 0.5 * np.log(s.duration_milli / 1000) + EPS, f"worst duration ratio {np.exp(worst):.3f}"
    assert np.allclose(d_back[~long], nc.DURATION_FLOOR)  # shorter notes come back at the floor


@pytest.mark.parametrize("q", [1, 7])
def test_onsets_do_not_drift_over_a_two_hour_piece(q: int) -> None:
    """Absolute grid: the last notes of 2 h of playing are as close to their onsets as the first."""
    s = setting(q)
    rng = np.random.default_rng(30 + q)
    n = 60_000
    onset = np.cumsum(rng.exponential(0.12, n))
    onset *= 7200 / onset[-1]
    perf = Performance(rng.integers(21, 109, n), onset, onset + 0.3, rng.integers(1, 128, n))
    order, back, _ = paired(perf, s)
    err = np.abs(back.onset - perf.onset[order])
    assert back.onset[-1] > 7199
    assert err.max() <= s.grid_ms / 2000 + EPS
    assert err[-100:].max() <= s.grid_ms / 2000 + EPS


@pytest.mark.parametrize("q", [1, 5])
def test_pedals_rebuild_as_on_off_transitions_within_half_a_grid_step(q: int) -> None:
    s = setting(q)
    perf = random_performance(50, seed=40 + q)
    back = nc.rebuild(nc.quantise(perf, s), s)
    assert sorted(back.pedals) == sorted(perf.pedals)
    for number, pedal in perf.pedals.items():
        down = pedal.value >= nc.PEDAL_DOWN
        changes = np.flatnonzero(np.diff(down.astype(int), prepend=0))
        rebuilt = back.pedals[number]
        assert len(rebuilt) == len(changes)
        assert np.max(np.abs(rebuilt.time - pedal.time[changes]), initial=0) <= s.grid_ms / 2000 + EPS
        np.testing.assert_array_equal(rebuilt.value, np.resize(nc.PEDAL_VALUES[::-1], len(changes)))


# ------------------------------------------------------------------------------------ pedal depth (NC05)


def leveled(q: int, levels: int) -> nc.NoteSetting:
    """Level q's grids with `levels` pedal levels."""
    return nc.NoteSetting(*setting(q).grids, levels)


@pytest.mark.parametrize("levels", range(nc.PEDAL_ON_OFF, nc.MAX_PEDAL_LEVELS + 1, 2))
def test_pedal_levels_are_equal_bins_that_keep_up_and_down(levels: int) -> None:
    value = np.arange(MIDI_MAX + 1)
    level = nc.pedal_level(value, levels)
    back = nc.level_values(levels)
    assert level.min() == 0 and level.max() == levels - 1 and np.all(np.diff(level) >= 0)
    np.testing.assert_array_equal((level >= levels // 2), value >= nc.PEDAL_DOWN)  # on/off is kept
    np.testing.assert_array_equal(nc.pedal_level(back, levels), np.arange(levels))  # a level decodes into its bin
    assert (back[0], back[-1]) == nc.PEDAL_VALUES
    assert np.abs(back[level] - value).max() < nc.MAX_PEDAL_LEVELS / levels
    if levels == nc.MAX_PEDAL_LEVELS:
        np.testing.assert_array_equal(back, value)


def _value_at_steps(times: np.ndarray, values: np.ndarray, steps: np.ndarray, grid_s: float) -> np.ndarray:
    """A pedal's value from each grid step on (an event at t counts from the step nearest t; 0 before the first)."""
    if not len(times):
        return np.zeros(len(steps), np.int64)
    at = np.floor(times / grid_s + 0.5)
    k = np.searchsorted(at, steps, side="right") - 1
    return np.where(k >= 0, values[np.maximum(k, 0)], 0)


@pytest.mark.parametrize("q, levels", [(3, 2), (3, 6), (5, 10), (7, 128)])
def test_pedal_depth_rebuilds_as_its_level_at_every_grid_step(q: int, levels: int) -> None:
    """What the decoder gives at each grid step is the level of what the pedal held there (of the events that round
    to one step, the last); 128 levels give every value back, and the up/down state never changes."""
    s = leveled(q, levels)
    perf = random_performance(200, seed=80 + q, long_gaps=False)
    sym = nc.quantise(perf, s)
    round_trip_at(sym, q, s)
    back = nc.rebuild(sym, s)
    grid_s = s.grid_ms / 1000
    for number, pedal in perf.pedals.items():
        steps = np.arange(int(perf.end / grid_s) + 2)
        want = _value_at_steps(pedal.time, pedal.value.astype(np.int64), steps, grid_s)
        got = _value_at_steps(back.pedals[number].time, back.pedals[number].value.astype(np.int64), steps, grid_s)
        np.testing.assert_array_equal(got, nc.level_values(levels)[nc.pedal_level(want, levels)])
        np.testing.assert_array_equal(got >= nc.PEDAL_DOWN, want >= nc.PEDAL_DOWN)
        depth = sym.depth[number]
        assert np.all(depth != np.r_[0, depth[:-1]]) and np.all(sym.pedals[number][1:] > 0)  # each event a change
    assert len(sym.pedals[SUSTAIN]) > 10 and set(sym.depth[SOFT].tolist()) <= {0, levels - 1}


def round_trip_at(sym: nc.Symbols, q: int, s: nc.NoteSetting) -> bytes:
    """round_trip at a setting with pedal levels: the depth comes back too."""
    payload = nc.encode(sym, s, priors(q))
    back, s_back = nc.decode(payload, len(sym.gap), priors(q), "piece.vqc")
    assert s_back == s and payload[: len(nc.NOTE_CODING)] == nc.NOTE_CODING
    assert_symbols_equal(back, sym)
    for number in sym.pedals:
        np.testing.assert_array_equal(back.depth[number], sym.depth[number], err_msg=f"pedal {number} depth")
    return payload


@pytest.mark.parametrize("case", ["random", "pedals only", "empty"])
@pytest.mark.parametrize("levels", [4, 6, 128])
def test_half_pedal_symbols_round_trip_exactly(case: str, levels: int) -> None:
    s = leveled(7, levels)
    round_trip_at(nc.quantise(CASES[case](), s), 7, s)


def test_every_level_change_round_trips() -> None:
    """From the lowest, highest and middle levels to every other level of 128 (wrapping round the level count both
    ways), at gaps from 1 to far over DIRECT, on three pedals."""
    s = leveled(4, nc.MAX_PEDAL_LEVELS)
    levels: list[int] = []
    for a in (0, 1, 63, 64, 126, 127):
        for b in range(nc.MAX_PEDAL_LEVELS):
            for x in (a, b):
                if x != (levels[-1] if levels else 0):
                    levels.append(x)
    depth = np.array(levels)
    gaps = np.resize([1, 2, nc.DIRECT - 1, nc.DIRECT, 3 * nc.DIRECT, 1, 1], len(depth))
    empty = np.zeros(0, np.int64)
    sym = nc.Symbols(empty, empty, empty, empty, {SUSTAIN: gaps, SOFT: gaps[:50], SOSTENUTO: empty},
                     {SUSTAIN: depth, SOFT: depth[:50], SOSTENUTO: empty})
    round_trip_at(sym, 4, s)


def test_two_levels_code_as_nc04_did() -> None:
    """NC05 at 2 levels codes no level symbols and its gap contexts fall on NC04's prior rows: the very same words,
    one byte (the level count) longer."""
    s = leveled(3, nc.PEDAL_ON_OFF)
    sym = nc.quantise(random_performance(300, seed=81), s)
    nc05, nc04 = nc.encode(sym, s, priors(3)), nc.encode(sym, s, priors(3), nc.NC04)
    assert len(nc05) == len(nc04) + 1 and nc05[crc_offset(nc05) + 4 :] == nc04[crc_offset(nc04) + 4 :]


def test_on_off_codings_refuse_half_pedal_depth() -> None:
    s = leveled(3, 6)
    sym = nc.quantise(random_performance(50, seed=82), s)
    for coding in (nc.NC02, nc.NC03, nc.NC04):
        with pytest.raises(ValueError, match="on/off"):
            nc.encode(sym, s, priors(3), coding)
    sym.depth[SUSTAIN] = sym.depth[SUSTAIN] + 6  # out of range
    with pytest.raises(ValueError, match="0..5"):
        nc.encode(sym, s, priors(3))


def test_every_flipped_byte_of_a_half_pedal_payload_is_caught() -> None:
    s = leveled(3, 6)
    perf = Performance([60, 64], [0.0, 0.5], [0.4, 0.9], [70, 80],
                       {SUSTAIN: Pedal([0.1, 0.12, 0.3, 0.5, 2.0, 3.0], [20, 50, 90, 127, 40, 0]),
                        SOFT: Pedal([1.0, 1.5], [70, 30])})
    payload = round_trip_at(nc.quantise(perf, s), 3, s)
    for i in range(crc_offset(payload), len(payload)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(payload)
            bad[i] ^= mask
            with pytest.raises(FormatError):
                nc.decode(bytes(bad), 2, priors(3), "piece.vqc")


# ------------------------------------------------------------------------------------------- rate accounting


def test_stream_bits_account_for_the_payload() -> None:
    q = 3
    s = setting(q)
    sym = nc.quantise(random_performance(4000, seed=50), s)
    payload = nc.encode(sym, s, priors(q))
    bits = nc.stream_bits(sym, s, priors(q))
    assert set(bits) == {"onset", "pitch", "velocity", "duration", "pedal"}
    assert all(b > 0 for b in bits.values())
    assert abs(sum(bits.values()) - 8 * len(payload)) <= 0.03 * 8 * len(payload), (sum(bits.values()), len(payload))


@pytest.mark.parametrize("coding", nc.CODINGS)
def test_count_tables_fit_the_streams_and_teach_the_coder(coding: bytes) -> None:
    q = 3
    s = setting(q)
    sym = nc.quantise(random_performance(2000, seed=60), s)
    tables = nc.count(sym, s, coding)
    has, hit, _, coded, _ = nc.pitch_plan(sym)
    n_pedal = sum(len(g) for g in sym.pedals.values())
    escapes = sum(int((g >= nc.DIRECT).sum()) for g in [sym.gap, *sym.pedals.values()])
    counted = {"pedal": n_pedal, "pitch_hit": len(has), "pitch_miss": len(coded), "escape": escapes}
    for name, shape in s.streams(coding).items():
        assert tables[name].shape == shape == priors(q)[name].shape
        assert tables[name].sum() == counted.get(name, len(sym.gap))
    assert len(coded) == len(sym.gap) - hit.sum()
    if coding == nc.NOTE_CODING:
        own = nc.stream_bits(sym, s, tables)
        flat = nc.stream_bits(sym, s, {k: np.zeros_like(v) for k, v in tables.items()})
        assert sum(own.values()) < 0.97 * sum(flat.values())  # counts of the piece itself are a good prior for it


@pytest.mark.parametrize("coding", [nc.NC02, nc.NC03])
@pytest.mark.parametrize("case", CASES)
def test_earlier_codings_still_round_trip(case: str, coding: bytes) -> None:
    """Formats 1.3 and 1.5: what earlier files hold decodes with the same bundle (its tables are kept)."""
    s = setting(3)
    sym = nc.quantise(CASES[case](), s)
    payload = nc.encode(sym, s, priors(3), coding)
    assert payload[:4] == coding
    assert_symbols_equal(nc.decode(payload, len(sym.gap), priors(3), "old.vqc")[0], sym)


def test_the_match_model_predicts_a_repeated_phrase() -> None:
    """A 40-note phrase played 8 times: from the second time on (after its first 4 notes) the match model
    predicts every pitch, and NC03 codes the pitches in a fraction of NC02's bits."""
    rng = np.random.default_rng(70)
    phrase = rng.integers(40, 90, 40)
    pitch = np.tile(phrase, 8)
    pred, length = nc.match_predictions(pitch)
    assert (pred[44:] == pitch[44:]).all() and (length[80:] == nc.MATCH_MAX).all()
    assert (pred[:4] == -1).all()
    onset = np.arange(len(pitch)) * 0.25
    perf = Performance(pitch, onset, onset + 0.2, rng.integers(40, 90, len(pitch)))
    s = setting(3)
    sym = nc.quantise(perf, s)
    new = nc.stream_bits(sym, s, priors(3))["pitch"]
    plan = nc._plan(sym, s, priors(3), nc.NC02)
    old = sum(-np.log2(w[np.arange(len(x)), x] / w.sum(1)).sum() for name, x, w in plan if name == "pitch")
    assert new < 0.4 * old, (new, old)
    round_trip(sym, 3)


def test_next_onset_and_next_same_pitch_match_a_direct_search() -> None:
    rng = np.random.default_rng(71)
    steps = np.sort(rng.integers(0, 60, 200))
    pitch = rng.integers(60, 66, 200)
    nxt, same = nc._next_onset(steps), nc._next_same_pitch(steps, pitch)
    for i in range(200):
        later = steps[steps > steps[i]]
        assert nxt[i] == (later[0] - steps[i] if len(later) else nc.NO_NEXT)
        j = [k for k in range(i + 1, 200) if pitch[k] == pitch[i]]
        assert same[i] == (steps[j[0]] - steps[i] if j else nc.NO_NEXT)


# ---------------------------------------------------------------------------------------------- damage


@pytest.fixture(scope="module")
def small() -> tuple[bytes, int]:
    """A small payload with notes, an escaped gap and two pedals: (payload, n_notes)."""
    onset = np.array([0.0, 0.0, 0.3, 0.31, 5.0, 5.2, 5.2, 6.0])
    perf = Performance([60, 64, 62, 67, 30, 90, 91, 60], onset, onset + 0.25, [10, 50, 90, 127, 1, 64, 65, 80],
                       {SUSTAIN: Pedal([0.1, 0.9, 4.0, 5.5], [127, 0, 100, 0]), SOFT: Pedal([1.0], [127])})
    sym = nc.quantise(perf, setting(3))
    return round_trip(sym, 3), len(perf)


def test_every_flipped_byte_of_the_crc_and_rans_words_is_caught(small: tuple[bytes, int]) -> None:
    """Exhaustive: never a silent wrong decode, never an error from outside vqcodec."""
    payload, n = small
    start = crc_offset(payload)
    assert len(payload) - start >= 12
    for i in range(start, len(payload)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(payload)
            bad[i] ^= mask
            with pytest.raises(FormatError):  # ChecksumError, TruncatedError are FormatErrors
                nc.decode(bytes(bad), n, priors(3), "piece.vqc")


def test_every_truncation_and_extension_is_caught(small: tuple[bytes, int]) -> None:
    payload, n = small
    for k in range(len(payload)):
        with pytest.raises(FormatError, match="^piece.vqc: "):
            nc.decode(payload[:k], n, priors(3), "piece.vqc")
    for extra in (b"\0", b"\0\0\0\0", b"\1\0\0\0", payload[-4:]):
        with pytest.raises(FormatError):
            nc.decode(payload + extra, n, priors(3), "piece.vqc")


@pytest.mark.parametrize("n_delta", [-1, 1, -8])
def test_a_wrong_note_count_is_caught(small: tuple[bytes, int], n_delta: int) -> None:
    payload, n = small
    with pytest.raises(FormatError):
        nc.decode(payload, n + n_delta, priors(3), "piece.vqc")


@pytest.mark.parametrize("written, given", [(a, b) for a in LEVELS for b in LEVELS if a != b])
def test_another_levels_prior_fails_loudly(written: int, given: int) -> None:
    perf = random_performance(40, seed=70, long_gaps=False)
    payload = nc.encode(nc.quantise(perf, setting(written)), setting(written), priors(written))
    with pytest.raises(FormatError):
        nc.decode(payload, len(perf), priors(given), "piece.vqc")


# ----------------------------------------------------------------------------------------- header and limits


def header(coding: bytes = nc.NOTE_CODING, grid: int = 16, vstep: int = 10, dmilli: int = 1400,
           pedals: tuple[tuple[int, int], ...] = (), n_pedals: int | None = None, levels: int = 6) -> bytes:
    n_pedals = len(pedals) if n_pedals is None else n_pedals
    head = HEAD.pack(coding, grid, vstep, dmilli, n_pedals)
    head += LEVELS_HEAD.pack(levels) if coding == nc.NOTE_CODING else b""
    return (head + b"".join(PEDAL_HEAD.pack(*p) for p in pedals)
            + struct.pack("<I", zlib.crc32(b"")))


def test_setting_of_reads_the_header() -> None:
    s, pedals = nc.setting_of(header(grid=24, vstep=12, dmilli=1800, pedals=((64, 7), (67, 0))), "x.vqc")
    assert s == nc.NoteSetting(24, 12, 1800, 6) and s.grids == setting(1).grids
    assert pedals == {64: 7, 67: 0}
    for coding in (nc.NC02, nc.NC03, nc.NC04):  # on/off pedals, no level count in the header
        s, pedals = nc.setting_of(header(coding, pedals=((64, 7),)), "x.vqc")
        assert s == nc.NoteSetting(16, 10, 1400, nc.PEDAL_ON_OFF) and pedals == {64: 7}


OTHER_CODING = bytes([nc.NOTE_CODING[0] ^ 0x01]) + nc.NOTE_CODING[1:]
BAD_HEADERS = {
    "another coding": (header(coding=OTHER_CODING), f"NOTE coding {OTHER_CODING!r}"),
    "zero coding": (header(coding=b"\0\0\0\0"), "NOTE coding"),
    "grid 0": (header(grid=0), "out of range"),
    "grid 1001": (header(grid=1001), "out of range"),
    "velocity step 0": (header(vstep=0), "out of range"),
    "velocity step 65": (header(vstep=65), "out of range"),
    "duration ratio 1.0": (header(dmilli=1000), "out of range"),
    "duration ratio 4.001": (header(dmilli=4001), "out of range"),
    "too many pedals": (header(pedals=tuple((c, 1) for c in range(nc.MAX_PEDALS + 1))), "pedals"),
    "255 pedals declared": (header(n_pedals=255), "pedals"),
    "pedal table short": (header(n_pedals=2, pedals=((64, 1),)), "pedals it does not hold"),
    "controller 128": (header(pedals=((128, 1),)), "invalid or repeated"),
    "controller twice": (header(pedals=((64, 1), (64, 2))), "invalid or repeated"),
    "too many transitions": (header(pedals=((64, nc.MAX_NOTES + 1),)), "invalid or repeated"),
    "short header": (header()[: HEAD.size - 1], "shorter than its header"),
    "no level count": (header()[: HEAD.size], "shorter than its header"),
    "0 pedal levels": (header(levels=0), "out of range"),
    "odd pedal levels": (header(levels=5), "out of range"),
    "130 pedal levels": (header(levels=130), "out of range"),
}


@pytest.mark.parametrize("case", BAD_HEADERS)
def test_setting_of_rejects_a_bad_header(case: str) -> None:
    payload, says = BAD_HEADERS[case]
    with pytest.raises(FormatError, match=f"^x.vqc: .*{re.escape(says)}"):
        nc.setting_of(payload, "x.vqc")
    with pytest.raises(FormatError):
        nc.decode(payload, 0, priors(3), "x.vqc")


def test_too_many_notes_is_a_limit_error_before_any_decoding(small: tuple[bytes, int],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    payload, _ = small

    def no_coder() -> None:
        raise AssertionError("decoding started")

    monkeypatch.setattr(nc, "_family", no_coder)
    with pytest.raises(LimitError, match=f"^piece.vqc: {nc.MAX_NOTES + 1} notes"):
        nc.decode(payload, nc.MAX_NOTES + 1, priors(3), "piece.vqc")


def test_encode_refuses_what_decode_would_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    s = setting(3)
    many_pedals = Performance([60], [0.0], [1.0], [64], {c: Pedal([0.5], [127]) for c in range(nc.MAX_PEDALS + 1)})
    with pytest.raises(LimitError):
        nc.encode(nc.quantise(many_pedals, s), s, priors(3))
    s7 = setting(7)  # a gap of 2**32 + DIRECT grid steps of 1 ms does not fit an escape
    far = Performance([60, 61], [0.0, ((1 << 32) + nc.DIRECT) / 1000], [1.0, 4.3e6], [64, 64])
    with pytest.raises(LimitError, match="over the limit"):
        nc.encode(nc.quantise(far, s7), s7, priors(7))
    monkeypatch.setattr(nc, "MAX_NOTES", 10)
    with pytest.raises(LimitError):
        nc.encode(nc.quantise(random_performance(11, seed=1, pedals=False), s), s, priors(3))
    assert isinstance(LimitError("x"), VqcError)


def test_match_table_collisions_never_give_a_false_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 4 slots per order nearly every lookup collides: a prediction is still only ever the pitch that
    followed an earlier occurrence of the same last k pitches, and encoder and decoder still agree."""
    monkeypatch.setattr(nc, "MATCH_TABLE_BITS", 2)
    rng = np.random.default_rng(72)
    pitch = np.concatenate([rng.integers(60, 64, 300), np.tile(rng.integers(50, 80, 12), 5)])
    pred, length = nc.match_predictions(pitch)
    seq = pitch.tolist()
    assert (pred >= 0).sum() >= 5  # some matches survive the collisions
    for i in np.flatnonzero(pred >= 0):
        k = next(k for k in nc.MATCH_ORDERS if length[i] >= k)
        starts = [j for j in range(k, i) if seq[j - k : j] == seq[i - k : i] and seq[j] == pred[i]]
        assert starts, f"note {i}: predicted {pred[i]} without an earlier matching {k}-gram"
    onset = np.arange(len(pitch)) * 0.2
    round_trip(nc.quantise(Performance(pitch, onset, onset + 0.1, np.full(len(pitch), 64)), setting(3)), 3)
