"""Rate and distortion figures against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.metrics import channel_distortion, compare


def _signal(x: np.ndarray, adc_res: int = 11) -> Signal:
    return Signal(x.reshape(len(x), -1), 360.0, [ChannelInfo(f"c{i}", adc_res=adc_res) for i in
                                                 range(x.reshape(len(x), -1).shape[1])])


def test_prd_prdn_snr_and_max_error_match_their_definitions():
    x = np.array([1.0, 3.0, 1.0, 3.0])  # mean 2, |x - mean| = 1 everywhere
    y = x + np.array([0.1, -0.1, 0.1, -0.1])
    r = channel_distortion("c", x, y)
    assert r.prdn == pytest.approx(10.0)  # sqrt(0.04 / 4) * 100
    assert r.prd == pytest.approx(100 * math.sqrt(0.04 / 20))
    assert r.snr == pytest.approx(20.0)
    assert r.rmse == pytest.approx(0.1) and r.max_err == pytest.approx(0.1)


def test_nan_positions_of_the_original_are_ignored():
    x = np.array([1.0, np.nan, 3.0, 1.0, 3.0])
    y = np.array([1.0, 99.0, 3.0, 1.0, 3.0])
    assert channel_distortion("c", x, y).max_err == 0.0


def test_a_flat_channel_has_no_prdn_and_says_why():
    x = np.full(1000, 0.1)  # float mean of a constant is not exactly the constant
    r = channel_distortion("c", x, x + 0.001)
    assert math.isnan(r.prdn) and math.isnan(r.snr) and "flat" in r.note
    assert r.max_err == pytest.approx(0.001)


def test_rates_count_every_byte_against_the_adc_resolution():
    x = np.tile([0.0, 1.0], 500)
    sig = _signal(np.stack([x, x], 1))
    rep = compare(sig, sig, n_bytes=275, original_bytes=3000)
    assert rep.bits_per_sample == pytest.approx(275 * 8 / 2000)
    assert rep.cr == pytest.approx(11 / rep.bits_per_sample)
    assert rep.bits_per_second == pytest.approx(275 * 8 * 360 / 1000)
    assert rep.cr_file == pytest.approx(3000 / 275)
    assert "CR" in rep.summary() and "PRDN" in rep.summary()


def test_overall_figures_are_the_mean_over_channels():
    a = np.tile([1.0, 3.0], 50)
    orig = _signal(np.stack([a, a], 1))
    dec = _signal(np.stack([a + 0.1, a + 0.2], 1))
    rep = compare(orig, dec, 100)
    assert rep.prdn == pytest.approx(np.mean([c.prdn for c in rep.channels]))
    assert rep.max_err == pytest.approx(0.2)
