"""A .vqc file read the way `wfdb.rdrecord` reads a WFDB record: a `wfdb.Record` with the fields wfdb gives, decoding
only the span asked; its neighbour vqcodec/io/wfdb.py reads and writes the records themselves.

    record = vqcodec.rdrecord("100.vqc", sampfrom=3600, sampto=7200, channels=[0])
    wfdb.processing.xqrs_detect(record.p_signal[:, 0], fs=record.fs)

The fields follow wfdb's rules for a span: sig_len is the span's length, base time and date move by sampfrom,
and init_value and checksum describe the samples returned (for the whole record, the checksum is given as the
signed 16-bit number WFDB's own headers write). A .vqc file keeps no signal file names, byte offsets, block sizes or
counter frequency: file_name is `<record>.dat` (as `vqcodec decompress` writes it), byte_offset None, block_size 0,
and counter_freq and base_counter None.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io._signal import INVALID_SAMPLE_VALUE

from vqcodec.api import Source, decompress, info, read_source
from vqcodec.container.format import DEFAULT_LIMITS, Limits
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.conditioning import FALLBACK_RANGE, SAMPLE_VALUE_RANGE
from vqcodec.ecg.signal import Signal
from vqcodec.errors import InputError
from vqcodec.io.wfdb import CHECKSUM_MODULUS, DAT_SUFFIX

RETURN_RES = 64
"""Bits of the arrays returned: wfdb.rdrecord's default (float64 p_signal, int64 d_signal)."""
UNSPECIFIED_BLOCK_SIZE = 0
"""block_size of every signal: a .vqc file does not keep it, and 0 (no blocking) is what WFDB headers mostly say."""


def rdrecord(path: Source, sampfrom: int = 0, sampto: int | None = None, channels: list[int] | None = None,
             physical: bool = True, *, model: str | Path | Codec | None = None,
             limits: Limits = DEFAULT_LIMITS) -> wfdb.Record:
    """A .vqc ECG file (path, bytes or binary file) -> the `wfdb.Record` that `wfdb.rdrecord` gives for the original
    record, with the decoded samples: samples [sampfrom, sampto) of `channels` (indices, default all), in p_signal
    (physical, float64, NaN where invalid) or, with physical=False, d_signal (int64 ADC values, invalid samples as
    the format's marker). Only the storage blocks the span needs are decoded (a lossless or max-error file's
    residual layer runs over the whole record, so such a file is decoded whole and cut). model and limits as in
    `vqcodec.decompress`; a bad argument is an InputError naming the file.
    """
    data, name = read_source(path)
    found = info(data, name=name, limits=limits)
    if found.kind != "ecg":
        raise InputError(f"{name}: holds a {found.kind} file; rdrecord reads ECG records")
    n = found.n_samples
    start, stop = _span(name, sampfrom, sampto, n)
    picked = _channels(name, channels, len(found.channels))
    whole = (start, stop) == (0, n)
    if whole:  # decoded whole, so that every check of the whole file runs (fingerprint, digest of the samples)
        signal = decompress(data, model, name=name, limits=limits)
    else:
        signal = decompress(data, model, name=name, limits=limits, start=start, stop=stop)
    assert isinstance(signal, Signal)  # an ECG file decodes to a Signal
    return to_record(signal.select(picked), start, whole, physical)


def to_record(signal: Signal, sampfrom: int = 0, whole: bool = True, physical: bool = True) -> wfdb.Record:
    """A decoded Signal (samples [sampfrom, sampfrom + T) of its record; `whole`: all of them) as the wfdb.Record
    `wfdb.rdrecord` gives; see the module's docstring for the fields a .vqc file does not keep."""
    digital = _digital(signal)
    sums = digital.sum(axis=0) % CHECKSUM_MODULUS
    half = CHECKSUM_MODULUS // 2
    checksum = [int(s) - CHECKSUM_MODULUS if whole and s >= half else int(s) for s in sums]
    n_sig = signal.n_channels
    base_time, base_date = _moved(signal, sampfrom)
    record = wfdb.Record(
        record_name=signal.record_name, n_sig=n_sig, fs=_wfdb_fs(signal.fs), sig_len=signal.n_samples,
        base_time=base_time, base_date=base_date, file_name=[signal.record_name + DAT_SUFFIX] * n_sig,
        fmt=[ch.fmt for ch in signal.channels], samps_per_frame=[1] * n_sig, skew=[None] * n_sig,
        byte_offset=[None] * n_sig, adc_gain=[float(ch.gain) for ch in signal.channels],
        baseline=[int(ch.baseline) for ch in signal.channels], units=[ch.units for ch in signal.channels],
        adc_res=[int(ch.adc_res) for ch in signal.channels], adc_zero=[int(ch.adc_zero) for ch in signal.channels],
        init_value=[int(v) for v in digital[0]], checksum=checksum, block_size=[UNSPECIFIED_BLOCK_SIZE] * n_sig,
        sig_name=[ch.name for ch in signal.channels], comments=list(signal.comments), d_signal=digital,
    )
    if physical:
        record.dac(expanded=False, return_res=RETURN_RES, inplace=True)  # wfdb's own conversion, as rdrecord runs it
    return record


def _span(name: str, sampfrom: object, sampto: object, n: int) -> tuple[int, int]:
    """[start, stop) checked as wfdb.rdrecord checks it: whole numbers, 0 <= sampfrom < sampto <= n."""
    stop = n if sampto is None else sampto
    for what, value in (("sampfrom", sampfrom), ("sampto", stop)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"{name}: {what} must be a whole number of samples, got {value!r}")
    start, stop = int(sampfrom), int(stop)  # type: ignore[call-overload]
    if not 0 <= start < stop <= n:
        raise InputError(f"{name}: samples {start}..{stop} are not a span of the record's {n} "
                         "(0 <= sampfrom < sampto <= sig_len)")
    return start, stop


def _channels(name: str, channels: object, n: int) -> list[int]:
    """The channel indices asked for (default all), each in range."""
    if channels is None:
        return list(range(n))
    if not isinstance(channels, (list, tuple)) or not channels:
        raise InputError(f"{name}: channels must be a non-empty list of channel indices, got {channels!r}")
    for c in channels:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < n:
            raise InputError(f"{name}: channel {c!r} is not one of the record's {n} channels (0..{n - 1})")
    return [int(c) for c in channels]


def _digital(signal: Signal) -> np.ndarray:
    """[T, C] int64 ADC values, invalid (NaN) samples as wfdb's marker for the channel's format."""
    digital = signal.digital()
    invalid = np.isnan(signal.samples)
    for c, ch in enumerate(signal.channels):
        digital[invalid[:, c], c] = INVALID_SAMPLE_VALUE.get(ch.fmt, SAMPLE_VALUE_RANGE.get(ch.fmt, FALLBACK_RANGE)[0])
    return digital


def _wfdb_fs(fs: float) -> int | float:
    """The rate as wfdb gives it: an int when it is a whole number (to 8 decimals), else the float."""
    return int(fs) if round(fs, 8) == float(int(fs)) else fs


def _moved(signal: Signal, sampfrom: int) -> tuple[datetime.time | None, datetime.date | None]:
    """Base time and date moved to sample sampfrom, as wfdb.rdrecord moves them: with a date, both; with a time
    alone, the time of day (wrapping at midnight); with a date alone, neither."""
    time = datetime.time.fromisoformat(signal.base_time) if signal.base_time else None
    date = datetime.date.fromisoformat(signal.base_date) if signal.base_date else None
    if not sampfrom or time is None:
        return time, date
    moved = datetime.datetime.combine(date or datetime.date.today(), time) + datetime.timedelta(
        seconds=sampfrom / _wfdb_fs(signal.fs))
    return moved.time(), moved.date() if date is not None else None
