"""Synthetic ECG for tests: an ECG-like waveform and a WFDB-like Signal on the ADC grid; neighbour of tiny.py."""

from __future__ import annotations

import numpy as np

from vqcodec.ecg.signal import ChannelInfo, Signal


def synthetic_ecg(n: int, fs: float = 360.0, seed: int = 0, amplitude: float = 1.0) -> np.ndarray:
    """An ECG-like 1-D signal in mV: Gaussian P/QRS/T bumps at ~70 bpm, baseline wander, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = 0.1 * np.sin(2 * np.pi * 0.3 * t) + 0.01 * rng.standard_normal(n)
    beat, end = 0.0, n / fs + 1
    while beat < end:
        for offset, width, height in ((-0.2, 0.025, 0.15), (0.0, 0.01, 1.0), (0.25, 0.04, 0.3)):
            x += height * np.exp(-0.5 * ((t - beat - offset) / width) ** 2)
        beat += 60 / 70 * (1 + 0.05 * rng.standard_normal())
    return amplitude * x


def make_signal(n: int, channels: int = 2, fs: float = 360.0, seed: int = 0) -> Signal:
    """A WFDB-like Signal (fmt 212, gain 200, baseline 1024) on the ADC grid."""
    cols = [synthetic_ecg(n, fs, seed + c, 1.0 / (c + 1)) for c in range(channels)]
    x = np.stack(cols, axis=1) if channels else np.zeros((n, 0))
    infos = [ChannelInfo(f"ch{c}", "mV", 200.0, 1024, 11, 1024, "212") for c in range(channels)]
    x = np.rint(x * 200) / 200
    return Signal(x, fs, infos, "synth")
