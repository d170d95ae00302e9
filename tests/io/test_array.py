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


def test_npy_source_reads_the_windows_read_array_gives(tmp_path: Path) -> None:
    from vqcodec.io.array import NpySource

    x = np.random.default_rng(1).normal(size=(3000, 2)).astype(np.float32)
    x[100:120, 1] = np.nan
    path = save(tmp_path / "a.npy", x)
    whole, source = read_array(path, fs=360.0), NpySource(path, fs=360.0)
    assert (source.n_samples, source.fs, source.record_name) == (3000, 360.0, "a")
    assert source.channels == whole.channels
    parts = np.concatenate([source.read(a, min(a + 777, 3000)) for a in range(0, 3000, 777)])
    np.testing.assert_array_equal(parts, whole.samples)
    assert isinstance(source._data, np.memmap)  # the file is mapped, not loaded


@pytest.mark.parametrize("bad, message", [(np.array([1.0, np.inf]), "contains inf"),
                                          (np.zeros((2, 2, 2)), "must be [T] or [T, C]")])
def test_npy_source_refuses_what_read_array_refuses(tmp_path: Path, bad: np.ndarray, message: str) -> None:
    from vqcodec.io.array import NpySource

    path = save(tmp_path / "bad.npy", bad)
    for reader in (read_array, NpySource):
        with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
            reader(path, fs=100.0)


def test_npy_writer_writes_write_arrays_bytes_in_windows_and_nothing_on_abort(tmp_path: Path) -> None:
    from vqcodec.io.array import NpyWriter

    x = np.random.default_rng(2).normal(size=(1001, 3))
    x[7:9, 2] = np.nan
    sig = read_array(save(tmp_path / "in.npy", x), fs=100.0)
    write_array(tmp_path / "whole.npy", sig)
    writer = NpyWriter(tmp_path / "windows.npy", 1001, 3)
    for a in range(0, 1001, 250):
        writer.write(x[a : a + 250])
    assert writer.close() == [tmp_path / "windows.npy"]
    assert (tmp_path / "windows.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()
    with pytest.raises(OutputExistsError):
        NpyWriter(tmp_path / "windows.npy", 1, 1)
    half = NpyWriter(tmp_path / "half.npy", 1001, 3)
    half.write(x[:500])
    with pytest.raises(VqcError, match="500 samples written of 1001"):
        half.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "whole.npy", "windows.npy"]
