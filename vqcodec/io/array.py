"""Plain .npy arrays to and from Signal: [T, C] (or [T]) physical values, NaN = invalid; `NpySource` reads one in
windows through a memory map and `NpyWriter` writes one in windows, for `vqcodec.ecg.stream`.

A .npy carries no units or ADC metadata, so its values are taken as mV and given channel metadata that
quantises them to 1 µV if the signal is later written as WFDB.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from vqcodec.container.atomic import check_output, publish, write_atomic
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import InputError, VqcError

NPY_UNITS = "mV"
NPY_GAIN = 1000.0  # adu per mV: 1 µV steps
NPY_FMT = "16"
NPY_WIDE_FMT = "32"  # when ±32.767 mV at 1 µV does not fit in 16 bits
NPY_FMT_LIMIT = 32767
SCAN_SAMPLES = 1 << 20
"""Samples per window when an array is scanned for its peak and infinities: bounds the copies made."""


def _channels(n_channels: int, peak: float) -> list[ChannelInfo]:
    """Default metadata for unnamed mV channels whose largest |value| is `peak`: fmt 16 unless it needs 32 bits."""
    fmt, res = (NPY_FMT, 16) if peak * NPY_GAIN <= NPY_FMT_LIMIT else (NPY_WIDE_FMT, 32)
    return [
        ChannelInfo(name=f"ch{i}", units=NPY_UNITS, gain=NPY_GAIN, baseline=0, adc_res=res, adc_zero=0, fmt=fmt)
        for i in range(n_channels)
    ]


def read_array(path: str | Path, fs: float | None) -> Signal:
    """Load a .npy of shape [T] or [T, C] (integer or float, taken as mV) sampled at fs Hz."""
    data, peak = _open(Path(path), fs, mmap=False)
    return Signal(samples=data.astype(np.float64), fs=float(fs or 0), channels=_channels(data.shape[1], peak),
                  record_name=Path(path).stem)


class NpySource:
    """A .npy array read in windows through a memory map: the values `read_array` gives, a window at a time, so
    memory does not grow with the array (a `vqcodec.ecg.stream.Source`)."""

    def __init__(self, path: str | Path, fs: float | None) -> None:
        self.path = Path(path)
        self._data, peak = _open(self.path, fs, mmap=True)
        self.fs = float(fs or 0)
        self.channels = _channels(self._data.shape[1], peak)
        self.n_samples = int(self._data.shape[0])
        self.record_name = self.path.stem
        self.comments: list[str] = []
        self.base_time: str | None = None
        self.base_date: str | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self._data[start:stop], dtype=np.float64)

    def check(self) -> None:
        """Nothing to check: a .npy array carries no checksum (a WFDB source's check() compares its own)."""


def _open(path: Path, fs: float | None, mmap: bool) -> tuple[np.ndarray, float]:
    """The checked [T, C] array of a .npy file (a memory map with `mmap`) and its largest finite |value| (0 if none),
    found in one pass of SCAN_SAMPLES windows; InputError naming what is wrong."""
    if fs is None:
        raise InputError(f"{path}: .npy input needs --fs")
    if not (math.isfinite(fs) and fs > 0):
        raise InputError(f"{path}: sampling rate must be a positive number, got {fs}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, OSError) and e.strerror:  # the file itself cannot be read (e.g. permission denied)
            raise InputError(f"{path}: cannot read ({e.strerror})") from e
        raise InputError(f"{path}: not a readable .npy array ({e})") from e
    if not isinstance(data, np.ndarray) or not (
        np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)
    ):
        raise InputError(f"{path}: array dtype {getattr(data, 'dtype', type(data))} is not integer or float")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise InputError(f"{path}: array must be [T] or [T, C], got shape {data.shape}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise InputError(f"{path}: empty array of shape {data.shape}")
    peak = 0.0
    for a in range(0, data.shape[0], SCAN_SAMPLES):
        window = np.abs(data[a : a + SCAN_SAMPLES].astype(np.float64))
        if np.isinf(window).any():
            raise InputError(f"{path}: array contains inf")
        if np.isfinite(window).any():
            peak = max(peak, float(np.nanmax(window)))
    if data.shape[0] < data.shape[1]:
        warnings.warn(f"{path}: {data.shape[0]} samples < {data.shape[1]} channels; is it [C, T]?", stacklevel=3)
    return data, peak


def write_array(path: str | Path, signal: Signal, force: bool = False) -> list[Path]:
    """Save the [T, C] float64 physical values as .npy, atomically (never partial, never overwriting)."""
    samples = np.asarray(signal.samples, dtype=np.float64)
    return [write_atomic(path, lambda fh: np.save(fh, samples, allow_pickle=False), force)]


class NpyWriter:
    """A [T, C] float64 .npy written window by window into a temporary file beside the destination, published whole
    by `close()` (the bytes `write_array` gives for the same samples); `abort()` leaves nothing behind."""

    def __init__(self, path: str | Path, n_samples: int, n_channels: int, force: bool = False) -> None:
        self.path, self.force = Path(path), force
        check_output(self.path, force)
        self.shape = (n_samples, n_channels)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        except OSError as e:
            raise VqcError(f"{self.path}: cannot write ({e.strerror or e})") from e
        self._tmp, self._fh = Path(tmp), os.fdopen(fd, "wb")
        self.n_written = 0
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f8")), "fortran_order": False, "shape": self.shape}
        self._guard(lambda: np.lib.format.write_array_header_1_0(self._fh, header))

    def _guard(self, step) -> None:  # noqa: ANN001 - a callable of no arguments
        try:
            step()
        except OSError as e:  # a full disk: nothing is left behind
            self.abort()
            raise VqcError(f"{self.path}: cannot write ({e.strerror or e})") from e

    def write(self, samples: np.ndarray) -> None:
        """Physical values [k, C] (NaN invalid), the next k samples."""
        self.n_written += len(samples)
        self._guard(lambda: self._fh.write(np.ascontiguousarray(samples, dtype="<f8").tobytes()))

    def close(self) -> list[Path]:
        """Check the count, sync, and give the file its name; returns [path]."""
        if self.n_written != self.shape[0]:
            self.abort()
            raise VqcError(f"{self.path}: {self.n_written} samples written of {self.shape[0]}")

        def finish() -> None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            publish(self._tmp, self.path, self.force)

        try:
            self._guard(finish)
        except BaseException:
            self.abort()
            raise
        return [self.path]

    def abort(self) -> None:
        """Remove the temporary file."""
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
