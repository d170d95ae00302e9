"""Rate and distortion: CR, bits/sample, PRD, PRDN (the headline), SNR, RMSE and max |error|.

Distortion is computed in physical units over valid (non-NaN) samples, per channel; the overall figures
are the mean over channels, as ECG compression papers report them. Rates count every byte of the file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from vqcodec.signal import Signal


@dataclass
class ChannelReport:
    """Distortion of one channel; PRD/PRDN/SNR are NaN when the channel has no energy (with `note`)."""

    name: str
    prd: float
    prdn: float
    snr: float
    rmse: float
    max_err: float
    note: str = ""


@dataclass
class Report:
    """What a lossy round trip cost and lost."""

    n_bytes: int
    n_samples: int
    n_channels: int
    fs: float
    adc_bits: int
    original_bytes: int | None
    channels: list[ChannelReport] = field(default_factory=list)

    @property
    def total_samples(self) -> int:
        return self.n_samples * self.n_channels

    @property
    def bits_per_sample(self) -> float:
        return 8 * self.n_bytes / self.total_samples if self.total_samples else math.nan

    @property
    def bits_per_second(self) -> float:
        return 8 * self.n_bytes * self.fs / self.n_samples if self.n_samples else math.nan

    @property
    def cr(self) -> float:
        """Compression ratio against the ADC resolution (11 bits for MIT-BIH)."""
        return self.adc_bits / self.bits_per_sample if self.total_samples and self.n_bytes else math.nan

    @property
    def cr_file(self) -> float:
        """Compression ratio against the original file bytes, when known."""
        return self.original_bytes / self.n_bytes if self.original_bytes and self.n_bytes else math.nan

    def _mean(self, key: str) -> float:
        vals = [getattr(c, key) for c in self.channels if not math.isnan(getattr(c, key))]
        return float(np.mean(vals)) if vals else math.nan

    @property
    def prd(self) -> float:
        return self._mean("prd")

    @property
    def prdn(self) -> float:
        return self._mean("prdn")

    @property
    def snr(self) -> float:
        return self._mean("snr")

    @property
    def rmse(self) -> float:
        return self._mean("rmse")

    @property
    def max_err(self) -> float:
        return max((c.max_err for c in self.channels), default=math.nan)

    def summary(self) -> str:
        """The one line `vqcodec compress` prints."""
        return (
            f"CR {self.cr:.2f} ({self.adc_bits}-bit), {self.bits_per_sample:.3f} bits/sample, "
            f"PRD {self.prd:.2f} %, PRDN {self.prdn:.2f} %, SNR {self.snr:.1f} dB, max error {self.max_err:.4g}"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("bits_per_sample", "bits_per_second", "cr", "cr_file", "prd", "prdn", "snr", "rmse", "max_err"):
            d[key] = getattr(self, key)
        return d


def channel_distortion(name: str, x: np.ndarray, y: np.ndarray) -> ChannelReport:
    """Distortion of reconstruction y against x (1-D, physical units), ignoring NaN positions of x."""
    valid = ~np.isnan(x)
    x, y = x[valid], y[valid]
    if len(x) == 0:
        return ChannelReport(name, math.nan, math.nan, math.nan, math.nan, 0.0, "no valid samples")
    err = y - x
    e2 = float(np.sum(err**2))
    rmse = math.sqrt(e2 / len(x))
    max_err = float(np.max(np.abs(err)))
    energy = float(np.sum(x**2))
    var = float(np.sum((x - x.mean()) ** 2)) if np.ptp(x) > 0 else 0.0  # exact: float rounding leaves ~1e-30
    prd = 100 * math.sqrt(e2 / energy) if energy > 0 else math.nan
    if var > 0:
        prdn = 100 * math.sqrt(e2 / var)
        snr = 10 * math.log10(var / e2) if e2 > 0 else math.inf
        note = ""
    else:
        prdn, snr, note = math.nan, math.nan, "flat channel: PRDN/SNR undefined"
    return ChannelReport(name, prd, prdn, snr, rmse, max_err, note)


def compare(original: Signal, decoded: Signal, n_bytes: int, original_bytes: int | None = None) -> Report:
    """Rate and distortion of `decoded` against `original` for a file of n_bytes."""
    if original.samples.shape != decoded.samples.shape:
        raise ValueError(f"shape mismatch: {original.samples.shape} vs {decoded.samples.shape}")
    adc_bits = max((c.resolution for c in original.channels), default=16)
    report = Report(n_bytes, original.n_samples, original.n_channels, original.fs, adc_bits, original_bytes)
    for c, info in enumerate(original.channels):
        report.channels.append(channel_distortion(info.name, original.samples[:, c], decoded.samples[:, c]))
    return report
