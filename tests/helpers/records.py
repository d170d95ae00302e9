"""Real MIT-BIH samples as Zarr chunks hold them, wfdb Records compared field by field, and a file damaged on disk,
for the tests of vqcodec.io's zarr codec and rdrecord; neighbour of signals.py (synthetic ECG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from vqcodec.io.wfdb import read_wfdb

MITDB = Path("ecg", "mitdb")
"""MIT-BIH Arrhythmia under the data root (VQCODEC_DATA)."""


def mitdb_path(data_root: Path, record: str = "100") -> Path:
    return data_root / MITDB / record


def mitdb_digital(data_root: Path, record: str = "100", samples: int | None = None) -> np.ndarray:
    """The record's ADC samples [T, C] as int16 (read by vqcodec.io, which checks the header's checksums), the
    first `samples` of them or all."""
    return read_wfdb(mitdb_path(data_root, record)).digital()[:samples].astype(np.int16)


def field_differences(expected: wfdb.Record, got: wfdb.Record) -> dict[str, tuple[object, object]]:
    """Every attribute of either record whose value or type differs: arrays by dtype, shape and values (NaN equal
    to NaN), the rest by == and type. Empty when the records are the same field for field."""
    out: dict[str, tuple[object, object]] = {}
    for name in sorted(set(vars(expected)) | set(vars(got))):
        a, b = getattr(expected, name, None), getattr(got, name, None)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            same = (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                    and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        else:
            same = a == b and type(a) is type(b) and _element_types(a) == _element_types(b)
        if not same:
            out[name] = (a, b)
    return out


def _element_types(value: object) -> list[type] | None:
    return [type(v) for v in value] if isinstance(value, list) else None


def flip_byte(path: Path, at: float = 0.5) -> None:
    """Flip one bit of the byte at fraction `at` of a file, in place (damage a CRC must catch)."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))
