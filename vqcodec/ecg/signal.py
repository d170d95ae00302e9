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


@dataclass(eq=False)
class AuxChannel:
    """A signal of a record that the model is not for (respiration, blood pressure, EEG ...), or one at another rate
    than the record's: coded by the residual layer alone (section AUXS of `vqcodec.ecg.file`).

    position: its number among the record's signals: the aux channels of a Signal hold their positions, and the
    Signal's own channels fill the others in order (see `Signal.positions`). samples: [n] physical, NaN invalid.
    """

    position: int
    fs: float
    channel: ChannelInfo
    samples: np.ndarray
    # == is identity (it holds an array): compare the fields instead

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    def digital(self) -> np.ndarray:
        """[n] int64 ADC values (invalid samples become 0)."""
        d = np.where(np.isnan(self.samples), 0.0, self.samples * self.channel.gain + self.channel.baseline)
        return np.rint(d).astype(np.int64)


@dataclass
class Signal:
    """A multi-channel signal.

    samples: [T, C] float64 in physical units; NaN marks invalid (missing) samples.
    fs: sampling rate in Hz. channels: one ChannelInfo per column. aux: the record's other signals, each at its own
    rate (an EDF file's respiration at 25 Hz beside ECG at 360 Hz), coded without the model.
    """

    samples: np.ndarray
    fs: float
    channels: list[ChannelInfo]
    record_name: str = "record"
    comments: list[str] = field(default_factory=list)
    base_time: str | None = None
    base_date: str | None = None
    aux: list[AuxChannel] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise InputError(f"{self.record_name}: samples must be [T, C], got shape {self.samples.shape}")
        if self.samples.shape[1] != len(self.channels):
            raise InputError(f"{self.record_name}: samples have {self.samples.shape[1]} channels but "
                             f"{len(self.channels)} ChannelInfo given")

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    def positions(self) -> list[int]:
        """The position among the record's signals of each of `channels`: those its aux channels do not hold."""
        taken = {a.position for a in self.aux}
        return [p for p in range(self.n_channels + len(self.aux)) if p not in taken][: self.n_channels]

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

    def without_aux(self) -> Signal:
        """The same record without its aux channels."""
        return Signal(self.samples, self.fs, self.channels, self.record_name, list(self.comments), self.base_time,
                      self.base_date)

    def digital(self) -> np.ndarray:
        """[T, C] int64 ADC values (invalid samples become 0; use np.isnan(samples) for the mask)."""
        gains = np.array([c.gain for c in self.channels], dtype=np.float64)
        baselines = np.array([c.baseline for c in self.channels], dtype=np.float64)
        d = np.where(np.isnan(self.samples), 0.0, self.samples * gains + baselines)
        return np.rint(d).astype(np.int64)
