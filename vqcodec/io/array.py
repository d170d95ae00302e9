"""Plain .npy arrays to and from Signal: [T, C] (or [T]) physical values, NaN = invalid.

A .npy carries no units or ADC metadata, so its values are taken as mV and given channel metadata that
quantises them to 1 µV if the signal is later written as WFDB.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from vqcodec.container.atomic import write_atomic
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import InputError

NPY_UNITS = "mV"
NPY_GAIN = 1000.0  # adu per mV: 1 µV steps
NPY_FMT = "16"
NPY_WIDE_FMT = "32"  # when ±32.767 mV at 1 µV does not fit in 16 bits
NPY_FMT_LIMIT = 32767


def _channels(samples: np.ndarray) -> list[ChannelInfo]:
    """Default metadata for unnamed mV channels, fmt 16 unless the values need 32 bits."""
    peak = float(np.nanmax(np.abs(samples))) if np.isfinite(samples).any() else 0.0
    fmt, res = (NPY_FMT, 16) if peak * NPY_GAIN <= NPY_FMT_LIMIT else (NPY_WIDE_FMT, 32)
    return [
        ChannelInfo(name=f"ch{i}", units=NPY_UNITS, gain=NPY_GAIN, baseline=0, adc_res=res, adc_zero=0, fmt=fmt)
        for i in range(samples.shape[1])
    ]


def read_array(path: str | Path, fs: float | None) -> Signal:
    """Load a .npy of shape [T] or [T, C] (integer or float, taken as mV) sampled at fs Hz."""
    path = Path(path)
    if fs is None:
        raise InputError(f"{path}: .npy input needs --fs")
    if not (math.isfinite(fs) and fs > 0):
        raise InputError(f"{path}: sampling rate must be a positive number, got {fs}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
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
    samples = data.astype(np.float64)
    if np.isinf(samples).any():
        raise InputError(f"{path}: array contains inf")
    if samples.shape[0] < samples.shape[1]:
        warnings.warn(f"{path}: {samples.shape[0]} samples < {samples.shape[1]} channels; is it [C, T]?", stacklevel=2)
    return Signal(samples=samples, fs=float(fs), channels=_channels(samples), record_name=path.stem)


def write_array(path: str | Path, signal: Signal, force: bool = False) -> list[Path]:
    """Save the [T, C] float64 physical values as .npy, atomically (never partial, never overwriting)."""
    samples = np.asarray(signal.samples, dtype=np.float64)
    return [write_atomic(path, lambda fh: np.save(fh, samples, allow_pickle=False), force)]
