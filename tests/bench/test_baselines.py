"""The bench baselines: lossless ones bit-exact, lossy ones within their bound, headers self-describing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers.signals import make_signal
from vqcodec.bench import baselines
from vqcodec.bench.baselines import Flac, MissingBaseline, Sz3, Unsupported, Wavelet, Zstd
from vqcodec.errors import FormatError

FS = 360.0


@pytest.fixture(scope="module")
def digital() -> np.ndarray:
    """[T, 2] int64 ADC samples of synthetic ECG (odd length, so wavelet bands are uneven)."""
    return make_signal(3001, channels=2).digital()


def lossless_baselines() -> list[baselines.Baseline]:
    pytest.importorskip("soundfile")
    return baselines.make("zstd") + baselines.make("flac")


def test_lossless_baselines_are_bit_exact(digital):
    for b in lossless_baselines():
        back = b.decode(b.encode(digital, FS))
        assert back.dtype == np.int64, b.name
        np.testing.assert_array_equal(back, digital, err_msg=b.name)


def test_zstd_differences_wrap_exactly_at_the_int16_limits():
    extreme = np.array([[-32768, 0], [32767, 5], [-32768, -5], [32767, 32767]], dtype=np.int64)
    b = Zstd(19, diff=True)
    np.testing.assert_array_equal(b.decode(b.encode(extreme, FS)), extreme)


def test_flac_codes_more_than_eight_channels_in_groups():
    pytest.importorskip("soundfile")
    wide = np.stack([make_signal(500, channels=1, seed=s).digital()[:, 0] for s in range(10)], axis=1)
    b = Flac()
    data = b.encode(wide, FS)
    assert len(baselines.unpack(data)[3]) == 2  # channels 0-7, then 8-9
    np.testing.assert_array_equal(b.decode(data), wide)


@pytest.mark.parametrize("make", [lambda: Zstd(3), lambda: Flac()])
def test_16_bit_coders_refuse_wider_samples(make):
    pytest.importorskip("soundfile")
    with pytest.raises(Unsupported, match="16-bit"):
        make().encode(np.array([[0], [40000]], dtype=np.int64), FS)


def test_sz3_stays_within_its_absolute_bound_and_shrinks_as_it_grows(digital):
    pytest.importorskip("pysz")
    sizes = []
    for bound in (1, 4, 16):
        b = Sz3(bound)
        data = b.encode(digital, FS)
        assert np.abs(b.decode(data) - digital).max() <= bound + 1e-9
        sizes.append(len(data))
    assert sizes[0] > sizes[1] > sizes[2]


def test_wavelet_error_follows_its_step_and_the_step_travels_in_the_header(digital):
    pytest.importorskip("pywt")
    errors, sizes = [], []
    for step in (2, 8, 32):
        data = Wavelet(step).encode(digital, FS)
        back = Wavelet(step).decode(data)
        rms = float(np.sqrt(np.mean((back - digital) ** 2)))
        assert rms <= step / 2, (step, rms)  # uniform quantiser: about step / sqrt(12) per coefficient
        errors.append(rms)
        sizes.append(len(data))
    assert errors == sorted(errors) and sizes == sorted(sizes, reverse=True)
    data = Wavelet(2).encode(digital, FS)
    np.testing.assert_array_equal(Wavelet(64).decode(data), Wavelet(2).decode(data))


def test_wavelet_uses_fewer_levels_on_a_short_signal():
    pytest.importorskip("pywt")
    short = make_signal(40, channels=1).digital()
    back = Wavelet(1).decode(Wavelet(1).encode(short, FS))
    assert back.shape == short.shape
    assert np.abs(back - short).max() < 2


def test_truncated_or_padded_stream_is_a_format_error(digital):
    data = Zstd(3).encode(digital, FS)
    for bad in (data[:-1], data + b"\0", data[:4], data[: baselines.HEADER.size + 1]):
        with pytest.raises(FormatError):
            Zstd(3).decode(bad)


def test_header_is_counted_in_the_bytes(digital):
    data = Zstd(19).encode(digital, FS)
    n, c, _, (frame,) = baselines.unpack(data)
    assert (n, c) == digital.shape
    assert len(data) == baselines.HEADER.size + baselines.PART_LENGTH.size + len(frame)


def test_missing_library_names_the_package_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysz", None)  # makes `import pysz` fail
    with pytest.raises(MissingBaseline, match=r"sz3: needs pysz.*vqcodec\[bench\]"):
        baselines.make("sz3")
    assert len(baselines.make("zstd")) == 2 * len(baselines.ZSTD_LEVELS)  # zstd is a base dependency
