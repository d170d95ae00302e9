"""vqcodec.container.bitpack: exact-width MSB-first index packing, exact counts, no ghost values."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec.container.bitpack import pack, packed_size, unpack
from vqcodec.errors import FormatError

LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 1000]


def hexbytes(text: str) -> bytes:
    """Parse a commented hexdump (mido style): everything after '#' on a line is a comment."""
    return bytes.fromhex(" ".join(line.split("#")[0] for line in text.splitlines()))


@pytest.mark.parametrize("bits", range(1, 17))
@pytest.mark.parametrize("n", LENGTHS)
def test_round_trip_every_width_and_length(bits: int, n: int) -> None:
    values = np.random.default_rng(bits * 1000 + n).integers(0, 1 << bits, n).astype(np.uint16)
    values[: min(n, 2)] = [(1 << bits) - 1, 0][: min(n, 2)]  # both extremes
    data = pack(values, bits)
    assert len(data) == packed_size(n, bits) == -(-n * bits // 8)
    out = unpack(data, bits, n)
    assert out.dtype == np.uint16 and out.shape == (n,)
    np.testing.assert_array_equal(out, values)


def test_layout_is_msb_first_with_zero_padding() -> None:
    assert pack(np.array([1, 2, 3]), 3) == hexbytes("""
        29   # 001 010 01
        80   # 1 + 7 zero padding bits
    """)
    assert pack(np.array([0xABC]), 12) == hexbytes("ab c0  # 1010 1011 1100 + 4 padding bits")
    assert pack(np.array([0x1234, 0xFFFF]), 16) == hexbytes("12 34 ff ff  # big-endian words")
    assert pack(np.array([1, 0, 1, 1, 0, 0, 0, 0, 1]), 1) == hexbytes("b0 80")


def test_any_shape_packs_its_ravel() -> None:
    codes = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    assert pack(codes, 5) == pack(codes.ravel(), 5)


@pytest.mark.parametrize(
    ("values", "bits"),
    [
        (np.array([8]), 3),  # too large
        (np.array([65536]), 16),
        (np.array([-1]), 4),  # negative
        (np.array([1.0]), 4),  # not integers
        (np.array([1]), 0),  # width out of range
        (np.array([1]), 17),
    ],
)
def test_pack_rejects_misuse(values: np.ndarray, bits: int) -> None:
    with pytest.raises(ValueError):
        pack(values, bits)


@pytest.mark.parametrize("delta", [-1, 1])
def test_unpack_rejects_wrong_length(delta: int) -> None:
    data = pack(np.arange(10), 4)
    with pytest.raises(FormatError, match="expected 5"):
        unpack(data[:delta] if delta < 0 else data + b"\0", 4, 10)


def test_unpack_rejects_nonzero_padding() -> None:
    with pytest.raises(FormatError, match="padding"):
        unpack(hexbytes("29 81"), 3, 3)


def test_unpack_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        unpack(b"", 0, 0)
    with pytest.raises(ValueError):
        unpack(b"", 8, -1)


def test_fast_enough_for_a_long_record() -> None:
    values = np.random.default_rng(0).integers(0, 1024, 650_000).astype(np.uint16)
    t0 = time.perf_counter()
    out = unpack(pack(values, 10), 10, values.size)
    assert time.perf_counter() - t0 < 0.5  # typically ~0.03 s; the bound only catches pathologies
    np.testing.assert_array_equal(out, values)


@settings(max_examples=50, deadline=None)
@given(bits=st.integers(1, 16), data=st.data())
def test_round_trip_property(bits: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=5000))
    arr = np.array(values, dtype=np.uint16)
    np.testing.assert_array_equal(unpack(pack(arr, bits), bits, len(values)), arr)
