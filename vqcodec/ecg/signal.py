"""The Signal dataclass: samples in physical units plus what is needed to write the record back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vqcodec.errors import InputError

FMT_BITS = {"8": 8, "80": 8, "508": 8, "310": 10, "311": 10, "212": 12, "16": 16, "61": 16, "160": 16,
            "516": 16, "24": 24, "524": 24, "32": 32}
"""Stored bits per sample of each WFDB format: the resolution assumed when a header gives adc_res 0."""


@dataclass
class ChannelInfo:
    """Per-channel metadata kept for a lossless write-back (WFDB semantics).

    A digital sample d maps to the physical value (d - baseline) / gain.
    """

    name: str
    units: str = "mV"
    gain: float = 200.0
    baseline: int = 0
    adc_res: int = 16
    adc_zero: int = 0
    fmt: str = "16"

    @property
    def resolution(self) -> int:
        """ADC bits: adc_res, or the format's width when the header leaves it 0 (unspecified)."""
        return self.adc_res if self.adc_res > 0 else FMT_BITS.get(self.fmt, 16)


@dataclass
class Signal:
    """A multi-channel signal.

    samples: [T, C] float64 in physical units; NaN marks invalid (missing) samples.
    fs: sampling rate in Hz. channels: one ChannelInfo per column.
    """

    samples: np.ndarray
    fs: float
    channels: list[ChannelInfo]
    record_name: str = "record"
    comments: list[str] = field(default_factory=list)
    base_time: str | None = None
    base_date: str | None = None

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise InputError(f"{self.record_name}: samples must be [T, C], got shape {self.samples.shape}")
        if self.samples.shape[1] != len(self.channels):
            raise InputError(f"{self.record_name}: samples have {self.samples.shape[1]} channels but "
                             f"{len(self.channels)} ChannelInfo given")

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    def select(self, columns: list[int]) -> Signal:
        """The same record with only these channels, in this order."""
        return Signal(self.samples[:, columns], self.fs, [self.channels[c] for c in columns], self.record_name,
                      list(self.comments), self.base_time, self.base_date)

    def digital(self) -> np.ndarray:
        """[T, C] int64 ADC values (invalid samples become 0; use np.isnan(samples) for the mask)."""
        gains = np.array([c.gain for c in self.channels], dtype=np.float64)
        baselines = np.array([c.baseline for c in self.channels], dtype=np.float64)
        d = np.where(np.isnan(self.samples), 0.0, self.samples * gains + baselines)
        return np.rint(d).astype(np.int64)
