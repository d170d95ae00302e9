"""Signal conditioning between a record and the model: invalid samples, resampling, the ADC grid.

`vqcodec.ecg.codec` runs the model on what this module prepares (NaN runs filled, the record at the model's rate)
and gives back through it (the model's rate back to the record's, rounded to each channel's ADC grid).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from vqcodec.ecg.signal import ChannelInfo

MAX_RESAMPLE_DENOMINATOR = 1000
FALLBACK_RANGE = (-32768, 32767)
SAMPLE_VALUE_RANGE = {
    "80": (-128, 127), "508": (-128, 127), "310": (-512, 511), "311": (-512, 511), "212": (-2048, 2047),
    "16": (-32768, 32767), "61": (-32768, 32767), "160": (-32768, 32767), "516": (-32768, 32767),
    "24": (-8388608, 8388607), "524": (-8388608, 8388607), "32": (-2147483648, 2147483647),
}
"""Digital range of each WFDB format (as in wfdb.io._signal); the minimum is the invalid-sample marker."""


def nan_runs(mask: np.ndarray) -> np.ndarray:
    """Runs of True in mask [T, C] as int64 [R, 3] = (channel, start, length)."""
    runs = []
    for c in range(mask.shape[1]):
        m = np.concatenate([[False], mask[:, c], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(m))
        for start, stop in zip(edges[::2], edges[1::2]):
            runs.append((c, start, stop - start))
    return np.array(runs, dtype=np.int64).reshape(-1, 3)


def fill_invalid(x: np.ndarray) -> np.ndarray:
    """Replace NaN in a 1-D array by linear interpolation (edges held); an all-NaN array becomes zeros."""
    bad = np.isnan(x)
    if not bad.any():
        return x
    if bad.all():
        return np.zeros_like(x)
    idx = np.arange(len(x))
    out = x.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return out


def resample(x: np.ndarray, fs_from: float, fs_to: float, length: int | None = None) -> np.ndarray:
    """Polyphase resampling of x [T, C] (exact rational ratio), trimmed or edge-padded to `length`."""
    if fs_from != fs_to and len(x) == 1:  # padtype="line" fits a line through one point: all NaN
        x = np.repeat(x, model_length(1, fs_from, fs_to), axis=0)
    elif fs_from != fs_to and len(x):
        from scipy.signal import resample_poly  # imported here: scipy.signal alone costs ~0.8 s of start-up

        ratio = Fraction(fs_to / fs_from).limit_denominator(MAX_RESAMPLE_DENOMINATOR)
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    if length is not None:
        if len(x) >= length:
            x = x[:length]
        else:
            x = np.concatenate([x, np.repeat(x[-1:], length - len(x), axis=0)])
    return x


def model_length(n: int, fs_from: float, fs_to: float) -> int:
    """Samples a record of n samples has at the model rate (as resample() makes them)."""
    if fs_from == fs_to:
        return n
    ratio = Fraction(fs_to / fs_from).limit_denominator(MAX_RESAMPLE_DENOMINATOR)
    return -(-n * ratio.numerator // ratio.denominator)


def quantize_to_grid(y: np.ndarray, channels: list[ChannelInfo]) -> tuple[np.ndarray, int]:
    """Round y [T, C] (physical) to each channel's ADC grid inside its format's valid range.

    Returns the physical values the written record will hold and the number of clipped samples.
    """
    out = np.empty_like(y)
    clipped = 0
    for c, ch in enumerate(channels):
        lo, hi = SAMPLE_VALUE_RANGE.get(ch.fmt, FALLBACK_RANGE)
        d = np.rint(y[:, c] * ch.gain + ch.baseline)
        clipped += int(np.count_nonzero((d <= lo) | (d > hi)))
        out[:, c] = (np.clip(d, lo + 1, hi) - ch.baseline) / ch.gain
    return out, clipped
