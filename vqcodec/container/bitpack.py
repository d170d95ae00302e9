"""Fixed-width packing of code indices: `bits` bits per value, MSB first, last byte zero-padded.

Unlike EnCodec's BitUnpacker, `unpack` takes the exact count, so no "ghost" values come back.
The container around the packed bytes is in `vqcodec.container.format`.
"""

from __future__ import annotations

import numpy as np

from vqcodec.errors import FormatError

MIN_BITS = 1
MAX_BITS = 16
_WORD_BITS = 16  # values travel through a big-endian uint16 view


def packed_size(count: int, bits: int) -> int:
    """Bytes taken by `count` values of `bits` bits each: ceil(count * bits / 8)."""
    return (count * bits + 7) // 8


def _check_bits(bits: int) -> None:
    if not (isinstance(bits, (int, np.integer)) and MIN_BITS <= bits <= MAX_BITS):
        raise ValueError(f"bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack `values.ravel()` (non-negative integers < 2**bits) at `bits` bits each."""
    _check_bits(bits)
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        return b""
    if flat.dtype.kind not in "ui":
        raise ValueError(f"values must be an integer array, got dtype {flat.dtype}")
    lo, hi = int(flat.min()), int(flat.max())
    if lo < 0 or hi >= 1 << bits:
        raise ValueError(f"values must lie in [0, {(1 << bits) - 1}] for {bits} bits, got [{lo}, {hi}]")
    # Each value as 16 bits MSB first; keep the low `bits` columns.
    all_bits = np.unpackbits(flat.astype(">u2").view(np.uint8)).reshape(-1, _WORD_BITS)
    return np.packbits(all_bits[:, _WORD_BITS - bits :]).tobytes()


def unpack(data: bytes, bits: int, count: int) -> np.ndarray:
    """Unpack exactly `count` values (uint16) from `data`, which must be exactly packed_size bytes.

    Raises FormatError if the length is wrong or the padding bits are not zero.
    """
    _check_bits(bits)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    raw = np.frombuffer(data, dtype=np.uint8)
    expected = packed_size(count, bits)
    if raw.size != expected:
        raise FormatError(f"packed indices are {raw.size} bytes, expected {expected} ({count} x {bits} bits)")
    pad = expected * 8 - count * bits
    if pad and raw[-1] & ((1 << pad) - 1):
        raise FormatError("packed indices have non-zero padding bits")
    words = np.zeros((count, _WORD_BITS), dtype=np.uint8)
    words[:, _WORD_BITS - bits :] = np.unpackbits(raw, count=count * bits).reshape(count, bits)
    return np.packbits(words, axis=1).view(">u2").ravel().astype(np.uint16)
