"""Performance validation and the lossless note-table packing (grid rounding bounds, bad blobs)."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

from vqcodec.errors import FormatError, LimitError, VersionError, VqcError
from vqcodec.midi.performance import (
    PACK_MAGIC,
    PACK_VERSION,
    SOFT,
    SUSTAIN,
    Pedal,
    Performance,
    _read_varints,
    _varints,
    pack_lossless,
    unpack_lossless,
)


def random_performance(n: int = 300, seed: int = 0) -> Performance:
    """n notes over ~n/10 s with random pitch/velocity, plus sustain and soft pedal streams."""
    rng = np.random.default_rng(seed)
    onset = np.sort(rng.uniform(0, n / 10, n))
    pedals = {
        SUSTAIN: Pedal(np.sort(rng.uniform(0, n / 10, 50)), rng.integers(0, 128, 50)),
        SOFT: Pedal(np.sort(rng.uniform(0, n / 10, 5)), rng.integers(0, 128, 5)),
    }
    return Performance(rng.integers(21, 109, n), onset, onset + rng.uniform(0, 2, n), rng.integers(1, 128, n), pedals)


def grid_order(perf: Performance, grid_ms: float) -> np.ndarray:
    """The note order an unpacked table has: by (onset on the grid, pitch)."""
    return np.lexsort((perf.pitch, np.rint(perf.onset * 1000 / grid_ms)))


def test_performance_converts_and_sorts() -> None:
    perf = Performance([62, 60, 64], [1.0, 1.0, 0.5], [2.0, 1.5, 0.75], [10, 20, 30])
    assert perf.pitch.dtype == np.uint8 and perf.velocity.dtype == np.uint8 and perf.onset.dtype == np.float64
    np.testing.assert_array_equal(perf.pitch, [64, 60, 62])
    np.testing.assert_array_equal(perf.offset, [0.75, 1.5, 2.0])
    np.testing.assert_array_equal(perf.velocity, [30, 20, 10])
    assert len(perf) == 3 and perf.end == 2.0


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"velocity": [0]}, "velocity"),
        ({"velocity": [128]}, "velocity"),
        ({"pitch": [128]}, "pitch"),
        ({"pitch": [60.5]}, "pitch"),
        ({"onset": [np.nan]}, "onset"),
        ({"onset": [-1.0], "offset": [0.0]}, "onset"),
        ({"offset": [0.5]}, "offset before onset"),
        ({"pitch": [60, 61]}, "length"),
    ],
)
def test_performance_rejects(kwargs: dict, problem: str) -> None:
    args = {"pitch": [60], "onset": [1.0], "offset": [2.0], "velocity": [64]} | kwargs
    with pytest.raises(ValueError, match=problem):
        Performance(**args)


def test_pedal_rejects_values_over_127() -> None:
    with pytest.raises(ValueError, match="pedal value"):
        Pedal([0.0], [200])


@pytest.mark.parametrize("grid_ms", [1, 10, 0.5])
def test_pack_round_trip_within_half_a_grid_step(grid_ms: float) -> None:
    perf = random_performance()
    back = unpack_lossless(pack_lossless(perf, grid_ms))
    order = grid_order(perf, grid_ms)
    half = grid_ms / 2000 + 1e-12
    assert len(back) == len(perf)
    np.testing.assert_array_equal(back.pitch, perf.pitch[order])
    np.testing.assert_array_equal(back.velocity, perf.velocity[order])
    assert np.max(np.abs(back.onset - perf.onset[order])) <= half
    assert np.max(np.abs(back.offset - perf.offset[order])) <= half
    for number, pedal in perf.pedals.items():
        np.testing.assert_array_equal(back.pedals[number].value, pedal.value)
        assert np.max(np.abs(back.pedals[number].time - pedal.time)) <= half


def test_pack_on_grid_is_exact() -> None:
    onset = np.array([0.0, 0.001, 0.001, 3600.5])
    perf = Performance([60, 61, 60, 108], onset, onset + [0.0, 0.002, 10.0, 0.1], [1, 127, 64, 2])
    back = unpack_lossless(pack_lossless(perf))
    for column in ("pitch", "onset", "offset", "velocity"):
        np.testing.assert_allclose(getattr(back, column), getattr(perf, column), rtol=0, atol=1e-9)


def test_pack_without_pedal_drops_it_and_is_smaller() -> None:
    perf = random_performance()
    without = pack_lossless(perf, pedal=False)
    assert unpack_lossless(without).pedals == {}
    assert len(without) < len(pack_lossless(perf))


def test_pack_empty_performance() -> None:
    empty = Performance([], [], [], [])
    back = unpack_lossless(pack_lossless(empty))
    assert len(back) == 0 and back.pedals == {}


@pytest.mark.parametrize("grid_ms", [0, -1, 1e-4])
def test_pack_rejects_bad_grid(grid_ms: float) -> None:
    with pytest.raises(ValueError, match="grid_ms"):
        pack_lossless(random_performance(5), grid_ms)


def test_varints_extremes() -> None:
    values = np.array([0, 1, 127, 128, 16383, 16384, 2**35, 2**63 - 1], dtype=np.int64)
    data = np.frombuffer(_varints(values), dtype=np.uint8)
    assert len(data) == 1 + 1 + 1 + 2 + 2 + 3 + 6 + 9
    back, end = _read_varints(data, 0, len(values), "test")
    np.testing.assert_array_equal(back, values)
    assert end == len(data)


def test_unpack_rejects_foreign_and_newer_blobs() -> None:
    blob = pack_lossless(random_performance(5))
    with pytest.raises(FormatError, match="not a packed note table"):
        unpack_lossless(b"MThd" + blob[4:], name="x.bin")
    with pytest.raises(VersionError, match="version 2"):
        unpack_lossless(PACK_MAGIC + bytes([PACK_VERSION + 1]) + blob[5:])


def test_unpack_refuses_huge_counts_before_allocating() -> None:
    raw = _varints(np.array([1000, 2**25, 0])) + bytes(10)
    blob = PACK_MAGIC + bytes([PACK_VERSION]) + zstandard.ZstdCompressor().compress(raw)
    with pytest.raises(LimitError, match="notes"):
        unpack_lossless(blob)


def test_unpack_rejects_trailing_payload() -> None:
    raw = _varints(np.array([1000, 0, 0])) + b"\x00"
    with pytest.raises(FormatError, match="trailing"):
        unpack_lossless(PACK_MAGIC + bytes([PACK_VERSION]) + zstandard.ZstdCompressor().compress(raw))


def test_unpack_prefixes_and_bit_flips_raise_only_vqc_errors() -> None:
    """No CRC here (a size baseline), so a flip may decode; but nothing may escape as another exception."""
    blob = pack_lossless(random_performance(8, seed=3))
    for cut in range(len(blob)):
        with pytest.raises(VqcError):
            unpack_lossless(blob[:cut])
    for bit in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            unpack_lossless(bytes(flipped))
        except VqcError:
            pass
