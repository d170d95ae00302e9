""".npy read/write: shapes, dtypes, NaN/inf, the missing fs, and atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vqcodec.io
from vqcodec.errors import InputError, OutputExistsError, VqcError
from vqcodec.io.array import read_array, write_array


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_1d_int_array_is_one_mv_channel(tmp_path: Path) -> None:
    sig = vqcodec.io.read(save(tmp_path / "a.npy", np.arange(10, dtype=np.int16)), fs=250)
    assert sig.samples.shape == (10, 1) and sig.samples.dtype == np.float64 and sig.fs == 250.0
    ch = sig.channels[0]
    assert (ch.name, ch.units, ch.gain, ch.baseline, ch.fmt) == ("ch0", "mV", 1000.0, 0, "16")
    assert sig.record_name == "a"


def test_2d_round_trip_keeps_nan(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(50, 3))
    x[5:9, 1] = np.nan
    sig = read_array(save(tmp_path / "a.npy", x), fs=500.0)
    assert [c.name for c in sig.channels] == ["ch0", "ch1", "ch2"]
    assert vqcodec.io.write(tmp_path / "b.npy", sig) == [tmp_path / "b.npy"]
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), x)
    assert vqcodec.io.record_paths(tmp_path / "b.npy") == [tmp_path / "b.npy"]


def test_large_values_get_fmt_32(tmp_path: Path) -> None:
    sig = read_array(save(tmp_path / "a.npy", np.array([0.0, 40.0])), fs=1.0)
    assert sig.channels[0].fmt == "32"


def test_npy_to_wfdb_quantises_to_microvolts(tmp_path: Path) -> None:
    sig = read_array(save(tmp_path / "a.npy", np.array([[0.0012345, np.nan], [-1.5, 2.0]])), fs=100.0)
    vqcodec.io.write(tmp_path / "a", sig)
    back = vqcodec.io.read(tmp_path / "a")
    np.testing.assert_array_equal(back.samples, [[0.001, np.nan], [-1.5, 2.0]])


def test_t_less_than_c_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"is it \[C, T\]"):
        read_array(save(tmp_path / "a.npy", np.zeros((2, 100))), fs=100.0)


@pytest.mark.parametrize("array, fs, message", [
    (np.zeros(4), None, "needs --fs"),
    (np.zeros(4), 0.0, "positive"),
    (np.zeros((2, 3, 4)), 1.0, "must be"),
    (np.array([1.0, np.inf]), 1.0, "inf"),
    (np.zeros((0, 2)), 1.0, "empty"),
    (np.array([1 + 2j]), 1.0, "dtype"),
    (np.array(["a"]), 1.0, "dtype"),
])
def test_bad_arrays(tmp_path: Path, array: np.ndarray, fs: float | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_array(save(tmp_path / "a.npy", array), fs)


def test_unreadable_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    for name in ("obj.npy", "junk.npy", "missing.npy"):
        with pytest.raises(InputError, match=name):
            read_array(tmp_path / name, 1.0)


@pytest.mark.parametrize("name", ["x.mid", "x.wav"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(InputError, match="not a valid MIDI file" if name.endswith(".mid") else "'.wav'"):
        vqcodec.io.read(tmp_path / name)


def test_existing_output_untouched_without_force(tmp_path: Path) -> None:
    sig = read_array(save(tmp_path / "a.npy", np.zeros(3)), fs=1.0)
    out = save(tmp_path / "b.npy", np.ones(2))
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    with pytest.raises(OutputExistsError, match="b.npy"):
        write_array(out, sig)
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    write_array(out, sig, force=True)
    np.testing.assert_array_equal(np.load(out), np.zeros((3, 1)))


def test_missing_output_dir(tmp_path: Path) -> None:
    sig = read_array(save(tmp_path / "a.npy", np.zeros(3)), fs=1.0)
    with pytest.raises(InputError, match="does not exist"):
        write_array(tmp_path / "no" / "b.npy", sig)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    sig = read_array(save(tmp_path / "a.npy", np.zeros(3)), fs=1.0)

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(VqcError if isinstance(error, Exception) else KeyboardInterrupt):
        write_array(tmp_path / "b.npy", sig)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]
