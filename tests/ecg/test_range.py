"""Decoding a time range: only the blocks and decoder chunks it needs, the same samples as a whole decode, and a
range clear of a damaged block decodes while the damage is warned about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.signals import make_signal
from tests.helpers.vqc import flip_in_block
from vqcodec.ecg import codec as codec_module
from vqcodec.ecg.codec import Codec
from vqcodec.errors import ChecksumError, InputError
from vqcodec.io.wfdb import read_wfdb


@pytest.fixture(scope="module")
def long_file(codec: Codec) -> tuple[bytes, np.ndarray]:
    """A record several storage blocks and decoder chunks long, with NaN runs, and its whole decode."""
    sig = make_signal(codec.block_samples * 3 + 777, channels=2, seed=8)
    sig.samples[1000:1300, 0] = np.nan
    data = codec.compress(sig).data
    return data, codec.decompress(data).samples


@pytest.mark.parametrize("span", [(0, None), (5, 6), (0, 1), (999, 1301), ("mid", 4000), ("end", 50)])
def test_a_range_is_the_whole_decode_cut(codec: Codec, long_file: tuple[bytes, np.ndarray], span, monkeypatch) -> None:
    monkeypatch.setattr(codec_module, "DECODE_CHUNK", 256)  # many chunks, so the range reuses the whole grid
    data, whole = long_file
    n = len(whole)
    a, length = span
    a = n // 2 if a == "mid" else n - length if a == "end" else a
    b = n if length is None else a + length
    got = vqcodec.decompress(data, codec, start=a, stop=b)
    np.testing.assert_array_equal(got.samples, whole[a:b])


REAL_AT_OTHER_RATES = {"qtdb 250 Hz": (Path("ecg", "qtdb", "sel14046"), 60.0),
                       "ptbxl 500 Hz": (Path("ecg", "ptbxl", "records500", "00000", "00100_hr"), None)}
"""Real records at rates other than the tiny model's 360 Hz, and the seconds of each the test codes (None: all)."""


@pytest.mark.parametrize("record", REAL_AT_OTHER_RATES)
def test_a_range_at_another_rate_is_exactly_the_whole_decode_cut(codec: Codec, data_dir: Path, record: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec_module, "DECODE_CHUNK", 256)  # decoder chunk edges every ~2.8 s
    path, seconds = REAL_AT_OTHER_RATES[record]
    sig = read_wfdb(data_dir / path)
    if seconds is not None:
        sig = replace(sig, samples=sig.samples[: round(seconds * sig.fs)])
    data = codec.compress(sig).data
    whole = codec.decompress(data).samples
    n = len(whole)
    per_model = sig.fs / codec.fs  # record samples per model-rate sample
    block = round(codec.block_samples * per_model)  # a storage block's edge, in record samples
    chunk = round(256 * codec.hop * per_model)  # a decoder chunk's edge
    spans = [(0, n), (0, 1), (n - 1, n), (n - 37, n), (3, 4), (chunk - 5, chunk + 5), (2 * chunk, 3 * chunk + 1),
             (n // 2, n // 2 + 1)]
    spans += [(block - 20, block + 20), (block, min(n, 2 * block)), (block - 1, block)] if block < n else []
    for a, b in spans:
        got = vqcodec.decompress(data, codec, start=a, stop=b).samples
        assert np.array_equal(got, whole[a:b], equal_nan=True), (record, a, b)


def test_a_range_clear_of_a_damaged_block_decodes_and_one_that_needs_it_names_it(
        codec: Codec, long_file: tuple[bytes, np.ndarray]) -> None:
    data, whole = long_file
    damaged = flip_in_block(data, 2, 3)  # the last storage block
    with pytest.raises(ChecksumError):
        vqcodec.decompress(damaged, codec)
    with pytest.warns(UserWarning, match="damaged outside the range"):
        got = vqcodec.decompress(damaged, codec, start=100, stop=2000)
    np.testing.assert_array_equal(got.samples, whole[100:2000])
    with pytest.raises(ChecksumError, match="block 2"):
        vqcodec.decompress(damaged, codec, start=len(whole) - 10, stop=len(whole))


def test_the_cli_writes_a_time_span(cli, codec: Codec, long_file: tuple[bytes, np.ndarray], tiny_bundle: Path,
                                    tmp_path: Path) -> None:
    data, whole = long_file
    src = tmp_path / "long.vqc"
    src.write_bytes(data)
    r = cli("decompress", src, "-o", tmp_path / "part.npy", "--model", tiny_bundle, "--start", "2", "--end", "4.5")
    assert r.code == 0, r.stderr
    assert "samples 720..1619" in r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "part.npy"), whole[720:1620])
    bad = cli("decompress", src, "-o", tmp_path / "x.npy", "--model", tiny_bundle, "--start", "5", "--end", "4")
    assert bad.code == 1 and "--end must come after --start" in bad.stderr
    clock = cli("decompress", src, "-o", tmp_path / "clock.npy", "--model", tiny_bundle, "--start", "0:02",
                "--end", "00:00:04.5")
    assert clock.code == 0, clock.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "clock.npy"), whole[720:1620])
    for wrong in ("1:75", "a:b", "1::2", "-3"):
        refused = cli("decompress", src, "-o", tmp_path / "w.npy", "--model", tiny_bundle, "--start", wrong)
        assert refused.code == 2 and "is not a time" in refused.stderr, (wrong, refused.stderr)


def test_a_range_outside_the_record_is_an_input_error(codec: Codec, long_file: tuple[bytes, np.ndarray]) -> None:
    data, whole = long_file
    with pytest.raises(InputError, match="not within"):
        vqcodec.decompress(data, codec, start=10, stop=len(whole) + 1)
