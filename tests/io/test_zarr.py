"""The numcodecs codec "vqcodec" (vqcodec.io.zarr_codec) and its Zarr format 3 wrapper: settings, chunks in and out,
damage, and real Zarr arrays on disk written from MIT-BIH record 100."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from packaging.version import Version

numcodecs = pytest.importorskip("numcodecs", reason="the zarr extra is not installed (pip install '.[zarr]')")
zarr = pytest.importorskip("zarr", reason="the zarr extra is not installed (pip install '.[zarr]')")

import vqcodec  # noqa: E402
from tests.helpers.records import flip_byte, mitdb_digital  # noqa: E402
from tests.helpers.signals import make_signal  # noqa: E402
from vqcodec.errors import ChecksumError, FormatError, InputError, TruncatedError, VqcError  # noqa: E402
from vqcodec.io.zarr_codec import CODEC_ID, CODEC_NAME, VqcCodec  # noqa: E402

FS = 360
CHUNK = 6 * FS  # 6 s of samples per chunk in the tests on disk
SPAN = 4 * CHUNK + 1234  # a partial last chunk, padded by Zarr with the fill value
ZARR3 = Version(zarr.__version__) >= Version("3.1.3")
"""Zarr format 3 with numcodecs codecs (zarr.codecs.numcodecs), and zarr.create_array, which the tests on disk use."""


def synthetic(n: int = 4000, channels: int = 2, dtype: str = "int16") -> np.ndarray:
    """ADC samples of the tests' synthetic ECG (baseline 1024, gain 200) as a chunk."""
    return make_signal(n, channels).digital().astype(dtype)


def tiny(tiny_bundle: Path, **settings: object) -> VqcCodec:
    """The codec through numcodecs' registry, writing with the committed tiny model."""
    codec = numcodecs.get_codec({"id": CODEC_ID, "fs": FS, "model": str(tiny_bundle), **settings})
    assert isinstance(codec, VqcCodec)
    return codec


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("settings", [{"max_error": 0}, {"quality": 2, "gain": 1000.0}, {"max_prdn": 5.5},
                                      {"max_error": 5, "quality": 3, "model": "ecg"}])
def test_get_codec_and_its_config_round_trip_through_json(settings: dict) -> None:
    codec = numcodecs.get_codec({"id": "vqcodec", "fs": FS, **settings})
    assert isinstance(codec, VqcCodec)
    config = codec.get_config()
    assert config["id"] == "vqcodec" and config["fs"] == FS
    assert {k: config[k] for k in settings} == settings
    again = numcodecs.get_codec(json.loads(json.dumps(config)))
    assert again == codec and again.get_config() == config


@pytest.mark.parametrize(("settings", "words"), [
    ({"fs": -1}, "fs must be a positive number"),
    ({"fs": 1e9}, "above the format's"),
    ({"max_prdn": 5, "quality": 3}, "goes with neither quality nor max_error"),
    ({"max_error": 1.5}, "max_error must be a whole number"),
    ({"max_error": -1}, r"max_error -1 outside \[0, 1048576\]"),
    ({"quality": "6"}, "quality must be a whole number"),
    ({"gain": 0}, "gain must be a positive number"),
])
def test_bad_settings_are_input_errors_naming_the_codec(settings: dict, words: str) -> None:
    with pytest.raises(InputError, match=words) as e:
        numcodecs.get_codec({"id": "vqcodec", "fs": FS, **settings})
    assert str(e.value).startswith(CODEC_NAME)


# ---------------------------------------------------------------- chunks


@pytest.mark.parametrize(("dtype", "channels", "one_d"), [("int16", 2, False), ("<i4", 1, True), (">i2", 3, False),
                                                          ("uint16", 1, False), ("int64", 2, False)])
def test_a_lossless_chunk_decodes_alone_to_its_dtype_and_shape(tiny_bundle: Path, dtype: str, channels: int,
                                                               one_d: bool) -> None:
    x = synthetic(3000, channels, dtype)
    x = x[:, 0] if one_d else x
    data = tiny(tiny_bundle, max_error=0).encode(x)
    assert isinstance(data, bytes) and vqcodec.info(data).max_error == 0
    y = numcodecs.get_codec({"id": "vqcodec", "fs": FS, "model": str(tiny_bundle)}).decode(data)  # other settings
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_decode_fills_out_and_refuses_an_out_of_the_wrong_size(tiny_bundle: Path) -> None:
    x = synthetic()
    codec = tiny(tiny_bundle, max_error=0)
    data = codec.encode(x)
    out = np.zeros_like(x)
    assert codec.decode(data, out=out) is out
    np.testing.assert_array_equal(out, x)
    flat = np.zeros(x.size, dtype=x.dtype)  # a flat buffer of the right size, as Zarr may pass
    codec.decode(np.frombuffer(data, dtype=np.uint8), out=flat)
    np.testing.assert_array_equal(flat, x.reshape(-1))
    with pytest.raises(InputError, match=r"out= holds 32000 bytes, the chunk 16000"):
        codec.decode(data, out=np.zeros(x.shape, dtype=np.int32))


@pytest.mark.parametrize("max_error", [2, 5])
def test_a_bounded_chunk_stays_within_its_bound(tiny_bundle: Path, max_error: int) -> None:
    x = synthetic(5000)
    codec = tiny(tiny_bundle, max_error=max_error)
    err = np.abs(codec.decode(codec.encode(x)).astype(np.int64) - x)
    assert err.max() == max_error  # the bound is used, and never passed


def test_a_quality_level_gives_back_what_the_chunk_says_it_lost(tiny_bundle: Path) -> None:
    x = synthetic(5000)
    codec = tiny(tiny_bundle, quality=1)
    data = codec.encode(x)
    y = codec.decode(data)
    assert y.dtype == x.dtype and y.shape == x.shape
    stored = vqcodec.info(data)
    assert stored.quality == 1 and stored.max_error is None
    for c, channel in enumerate(stored.metrics["channels"]):  # max error stored in mV; gain 200 ADC units per mV
        assert np.abs(y[:, c].astype(np.int64) - x[:, c]).max() == round(channel["max_err"] * 200)


def test_max_prdn_picks_a_setting_that_meets_it(tiny_bundle: Path) -> None:
    x = synthetic(5000)
    codec = tiny(tiny_bundle, max_prdn=3.0)
    data = codec.encode(x)
    y = codec.decode(data)
    assert vqcodec.compare(make_signal(5000), _as_signal(y), len(data)).prdn <= 3.0


def _as_signal(d: np.ndarray) -> vqcodec.Signal:
    sig = make_signal(len(d), d.shape[1])
    return vqcodec.Signal((d - 1024) / 200.0, sig.fs, sig.channels, sig.record_name)


@pytest.mark.parametrize(("chunk", "words"), [
    (np.zeros((100, 2)), "takes integer ADC samples, got float64"),
    (np.zeros((10, 2, 2), dtype=np.int16), r"takes a chunk \[time, channels\] or \[time\]"),
    (np.zeros((0, 2), dtype=np.int16), "empty chunk"),
    (np.array([[-(2**31)], [0]], dtype=np.int64), "outside -2147483647..2147483647"),
])
def test_encode_refuses_what_it_cannot_store(tiny_bundle: Path, chunk: np.ndarray, words: str) -> None:
    with pytest.raises(InputError, match=words):
        tiny(tiny_bundle, max_error=0).encode(chunk)


def test_damaged_or_foreign_chunks_raise_vqc_errors_naming_the_chunk_and_codec(tiny_bundle: Path) -> None:
    codec = tiny(tiny_bundle, max_error=0)
    data = codec.encode(synthetic())
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    cases = [(bytes(flipped), ChecksumError), (data[:-40], TruncatedError), (b"not a vqc chunk at all", FormatError),
             (numcodecs.Zlib().encode(synthetic().tobytes()), FormatError)]
    for damaged, kind in cases:
        with pytest.raises(kind) as e:
            codec.decode(damaged)
        assert str(e.value).startswith(f"chunk of {len(damaged)} bytes ({CODEC_NAME}): ")


def test_a_plain_vqc_file_is_not_taken_for_a_chunk(codec: vqcodec.Codec, tiny_bundle: Path) -> None:
    data = vqcodec.compress(make_signal(2000), codec, max_error=0)
    with pytest.raises(FormatError, match="not a chunk written by the numcodecs codec vqcodec"):
        tiny(tiny_bundle).decode(data)


# ---------------------------------------------------------------- Zarr arrays on disk, from a real record


@pytest.fixture(scope="module")
def record_100(data_dir: Path) -> np.ndarray:
    """The first SPAN ADC samples of MIT-BIH 100, both leads, int16 [T, 2]."""
    return mitdb_digital(data_dir, "100", SPAN)


def write_array(path: Path, x: np.ndarray, zarr_format: int, **settings: object) -> None:
    """A Zarr array of x on disk, chunks of CHUNK samples and every channel, coded by the vqcodec codec."""
    if zarr_format == 2:
        coding: dict = {"compressors": VqcCodec(fs=FS, **settings)}  # type: ignore[arg-type]
    else:
        from vqcodec.io.zarr3 import VqcZarr3Codec

        with pytest.warns(UserWarning, match="not in the Zarr version 3 specification"):
            coding = {"serializer": VqcZarr3Codec(fs=FS, **settings), "compressors": None}
    z = zarr.create_array(str(path), shape=x.shape, chunks=(CHUNK, x.shape[1]), dtype=x.dtype,
                          zarr_format=zarr_format, fill_value=0, **coding)
    z[:] = x


def chunk_file(path: Path, zarr_format: int, index: int) -> Path:
    """The file of chunk `index` (along time) of a 2-D array with one chunk across channels."""
    return path / f"{index}.0" if zarr_format == 2 else path / "c" / str(index) / "0"


ON_DISK = pytest.mark.skipif(not ZARR3, reason="the arrays on disk are written through zarr >= 3.1.3")
FORMATS = [pytest.param(2, marks=ON_DISK), pytest.param(3, marks=ON_DISK)]
OUTSIDE_SPEC = "ignore:Numcodecs codecs are not in the Zarr version 3 specification"
"""Zarr's warning, on opening a format 3 array, that numcodecs codecs are its own extension (asserted on writing)."""


@pytest.mark.filterwarnings(OUTSIDE_SPEC)
@pytest.mark.parametrize("zarr_format", FORMATS)
def test_a_zarr_array_of_a_real_record_is_exact_at_max_error_0(tmp_path: Path, record_100: np.ndarray,
                                                               zarr_format: int) -> None:
    path = tmp_path / "100.zarr"
    write_array(path, record_100, zarr_format, max_error=0)
    meta = json.loads((path / (".zarray" if zarr_format == 2 else "zarr.json")).read_text())
    stored = meta["compressor"] if zarr_format == 2 else meta["codecs"][0]
    assert stored == ({**VqcCodec(fs=FS, max_error=0).get_config()} if zarr_format == 2
                      else {"name": "numcodecs.vqcodec", "configuration": {"fs": FS, "max_error": 0}})
    assert vqcodec.info(chunk_file(path, zarr_format, 3).read_bytes()).max_error == 0  # each chunk is a .vqc file
    z = zarr.open_array(str(path), mode="r")  # found by its name in the metadata
    assert z.dtype == np.int16 and z.shape == record_100.shape
    part = z[5000:9000]  # a slice across a chunk boundary
    np.testing.assert_array_equal(part, record_100[5000:9000])
    np.testing.assert_array_equal(z[:], record_100)


@pytest.mark.filterwarnings(OUTSIDE_SPEC)
@pytest.mark.parametrize("zarr_format", FORMATS)
def test_a_zarr_array_at_max_error_5_stays_within_5(tmp_path: Path, record_100: np.ndarray, tiny_bundle: Path,
                                                    zarr_format: int) -> None:
    path = tmp_path / "100_e5.zarr"
    write_array(path, record_100, zarr_format, max_error=5, model=str(tiny_bundle))
    z = zarr.open_array(str(path), mode="r")
    whole = z[:]
    err = np.abs(whole.astype(np.int64) - record_100)
    assert err.max() == 5 and err.mean() > 1  # lossy, and within the bound on every sample
    np.testing.assert_array_equal(z[CHUNK - 100 : CHUNK + 100, 1], whole[CHUNK - 100 : CHUNK + 100, 1])  # a slice


@pytest.mark.filterwarnings(OUTSIDE_SPEC)
@pytest.mark.parametrize("zarr_format", FORMATS)
def test_a_damaged_chunk_file_raises_a_clear_error_and_spares_the_others(tmp_path: Path, record_100: np.ndarray,
                                                                        zarr_format: int) -> None:
    path = tmp_path / "100.zarr"
    write_array(path, record_100, zarr_format, max_error=0)
    damaged = chunk_file(path, zarr_format, 2)
    flip_byte(damaged)
    z = zarr.open_array(str(path), mode="r")
    np.testing.assert_array_equal(z[: 2 * CHUNK], record_100[: 2 * CHUNK])  # chunks 0 and 1 are intact
    with pytest.raises(VqcError) as e:
        z[2 * CHUNK : 2 * CHUNK + 10]
    assert isinstance(e.value, ChecksumError)
    assert str(e.value).startswith(f"chunk of {damaged.stat().st_size} bytes ({CODEC_NAME}): ")
    assert "CRC mismatch" in str(e.value)
