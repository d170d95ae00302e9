"""Synthetic piano performances for the MIDI tests (seeded numpy generators), and checks on what the coder gives
back; neighbour of signals.py for ECG."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np

from vqcodec.midi import coder as nc
from vqcodec.midi.performance import META_KEPT, META_TEMPO, SOFT, SOSTENUTO, SUSTAIN, Pedal, Performance


def random_performance(n: int = 400, seed: int = 0, long_gaps: bool = True, pedals: bool = True,
                       max_duration: float = 8.0) -> Performance:
    """n notes: ~30 % in chords (onsets equal or within 2 ms), off-grid times, durations log-uniform from 2 ms (below
    DURATION_FLOOR) to max_duration, a few gaps far over DIRECT grid steps; CC64 ramps, CC67 on/off, an empty CC66."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(0.15, n)
    chord = rng.random(n) < 0.3
    gaps[chord] = np.where(rng.random(chord.sum()) < 0.5, 0.0, rng.uniform(0, 0.002, chord.sum()))
    if long_gaps and n > 10:
        gaps[[n // 4, n // 2, 3 * n // 4]] = [4.5, 61.0, 3700.0]  # > DIRECT * 24 ms, up to an hour of silence
    onset = np.cumsum(gaps)
    duration = np.exp(rng.uniform(np.log(0.002), np.log(max_duration), n))
    pedal = {}
    if pedals:
        end = float(onset[-1]) + 1 if n else 10.0
        m = 60
        pedal = {
            SUSTAIN: Pedal(np.sort(rng.uniform(0, end, m)), rng.integers(0, 128, m)),  # continuous, half-pedal values
            SOFT: Pedal(np.sort(np.r_[rng.uniform(0, end, 9), 3 * end + 400]), np.tile([127, 0], 5)),  # a long gap
            SOSTENUTO: Pedal([], []),
        }
    return Performance(rng.integers(21, 109, n), onset, onset + duration, rng.integers(1, 128, n), pedal)


def mido_meta(path: Path) -> list[tuple[int, bytes, float]]:
    """(type byte, data, seconds) of every meta event of a kept type that mido reads in a file, in playback order
    (mido's own tempo map and its seconds: what any mido user sees)."""
    out, now = [], 0.0
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.is_meta and msg.type != "end_of_track":
            raw = msg.bytes()
            start = 2 + next(i for i, b in enumerate(raw[2:]) if b < 0x80) + 1
            if raw[1] in META_KEPT:
                out.append((raw[1], bytes(raw[start:]), now))
    return out


def assert_same_meta(original: Path, written: Path) -> None:
    """mido reads the same meta messages in both files: type and data exactly, and each at its time within half a
    tick of the written file (a tick at the slowest tempo)."""
    a, b = sorted(mido_meta(original)), sorted(mido_meta(written))
    assert [(t, d) for t, d, _ in a] == [(t, d) for t, d, _ in b]
    slowest = max([500000] + [int.from_bytes(d, "big") for t, d, _ in a if t == META_TEMPO])
    half_tick = slowest / (2e6 * mido.MidiFile(written).ticks_per_beat) + 1e-9
    for (_, _, x), (_, _, y) in zip(a, b):
        assert abs(x - y) <= half_tick, (x, y, half_tick)


def assert_symbols_equal(a: nc.Symbols, b: nc.Symbols, levels: bool = False) -> None:
    """Every note symbol and each pedal's gaps equal; with `levels`, each pedal's levels too."""
    for field in ("gap", "pitch", "velocity", "duration"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert list(a.pedals) == list(b.pedals)
    for c in a.pedals:
        np.testing.assert_array_equal(a.pedals[c], b.pedals[c], err_msg=f"pedal {c}")
        if levels:
            np.testing.assert_array_equal(a.depth[c], b.depth[c], err_msg=f"pedal {c} levels")


TIME_ULPS = 2
"""How far (units in the last place) a decoded time may be from a stored golden one. Until NoteSetting.duration_seconds,
the seconds of a duration level came from numpy's array pow, which on CPUs with AVX-512 differs from libm's in the
last bit on some levels; the golden files' stored times are likely from such a CPU (on one without, they were one
unit off)."""


def assert_same_notes(table: dict, expected: dict) -> None:
    """A note table (pitch, onset, offset, velocity, pedals: number -> [times, values]) is the expected one: pitches,
    velocities, pedal numbers and values exactly, times within TIME_ULPS. A table without "pedals" skips them;
    `expected` may hold other keys too."""
    for key in ("pitch", "velocity"):
        assert table[key] == expected[key], key
    for key in ("onset", "offset"):
        assert len(table[key]) == len(expected[key]), key
        np.testing.assert_array_max_ulp(np.asarray(table[key], np.float64), np.asarray(expected[key], np.float64),
                                        TIME_ULPS)
    pedals = table.get("pedals", {})
    assert "pedals" not in table or pedals.keys() == expected["pedals"].keys()
    for number, (times, values) in pedals.items():
        want_times, want_values = expected["pedals"][number]
        assert values == want_values and len(times) == len(want_times), number
        np.testing.assert_array_max_ulp(np.asarray(times, np.float64), np.asarray(want_times, np.float64), TIME_ULPS)
