"""WFDB read/write: lossless round trips, NaN masks, and every bad-input case of docs/RELIABILITY.md."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import pytest
import wfdb
from wfdb.io._signal import INVALID_SAMPLE_VALUE, SAMPLE_VALUE_RANGE

import vqcodec.io
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import InputError, OutputExistsError, VqcError
from vqcodec.io.wfdb import read_wfdb, write_wfdb

N = 40
GAINS = [200.0, 1000.0, 50.0]
BASELINES = [1024, -5, 0]
UNITS = ["mV", "uV", "mmHg"]
NAMES = ["MLII", "V5", "dead"]
COMMENTS = ["69 M 1085 1629 x1", "<age>: 51"]
BASE_TIME = datetime.time(10, 30, 15)
BASE_DATE = datetime.date(2001, 2, 3)


def make_digital(fmt: str, n: int = N) -> np.ndarray:
    """3 channels inside fmt's range; invalid runs at the start, middle and end of ch0 and all of ch2."""
    lo, hi = SAMPLE_VALUE_RANGE[fmt]
    rng = np.random.default_rng(0)
    d = rng.integers(lo + 1, hi + 1, size=(n, 3))
    invalid = INVALID_SAMPLE_VALUE[fmt]
    d[:3, 0] = d[n // 2 : n // 2 + 4, 0] = d[-2:, 0] = invalid
    d[:, 2] = invalid
    return d


def make_record(directory: Path, fmt: str = "212", name: str = "rec") -> np.ndarray:
    """Write a small 3-channel record with wfdb itself and return its digital values."""
    d = make_digital(fmt)
    wfdb.wrsamp(
        name, fs=360, units=UNITS, sig_name=NAMES, d_signal=d, fmt=[fmt] * 3, adc_gain=GAINS,
        baseline=BASELINES, comments=COMMENTS, base_time=BASE_TIME, base_date=BASE_DATE, write_dir=str(directory),
    )
    return d


@pytest.mark.parametrize("fmt", ["212", "16", "80"])
def test_read_converts_and_masks_invalid(tmp_path: Path, fmt: str) -> None:
    d = make_record(tmp_path, fmt)
    sig = read_wfdb(tmp_path / "rec")
    invalid = d == INVALID_SAMPLE_VALUE[fmt]
    assert sig.samples.shape == (N, 3) and sig.fs == 360
    np.testing.assert_array_equal(np.isnan(sig.samples), invalid)
    expected = (d - np.array(BASELINES)) / np.array(GAINS)
    np.testing.assert_array_equal(sig.samples[~invalid], expected[~invalid])
    assert [c.name for c in sig.channels] == NAMES
    assert [c.units for c in sig.channels] == UNITS
    assert [c.gain for c in sig.channels] == GAINS
    assert [c.baseline for c in sig.channels] == BASELINES
    assert {c.fmt for c in sig.channels} == {fmt}
    assert sig.comments == COMMENTS and sig.record_name == "rec"
    assert (sig.base_time, sig.base_date) == (BASE_TIME.isoformat(), BASE_DATE.isoformat())


@pytest.mark.parametrize("fmt", ["212", "16", "80"])
def test_round_trip_is_lossless(tmp_path: Path, fmt: str) -> None:
    d = make_record(tmp_path, fmt)
    sig = read_wfdb(tmp_path / "rec.hea")
    (tmp_path / "out").mkdir()
    written = write_wfdb(tmp_path / "out" / "copy", sig)
    assert written == [tmp_path / "out" / "copy.hea", tmp_path / "out" / "copy.dat"]
    original = wfdb.rdrecord(str(tmp_path / "rec"), physical=False, return_res=64)
    copy = wfdb.rdrecord(str(tmp_path / "out" / "copy"), physical=False, return_res=64)
    np.testing.assert_array_equal(copy.d_signal, d)
    for field in ("sig_name", "units", "adc_gain", "baseline", "fmt", "adc_res", "adc_zero", "comments",
                  "base_time", "base_date", "fs", "checksum", "init_value"):
        assert getattr(copy, field) == getattr(original, field), field
    again = read_wfdb(tmp_path / "out" / "copy.dat")
    np.testing.assert_array_equal(again.samples, sig.samples)  # NaN positions equal too
    assert again.channels == sig.channels and again.comments == sig.comments


def test_path_forms_agree(tmp_path: Path) -> None:
    make_record(tmp_path)
    a, b, c = (read_wfdb(tmp_path / p) for p in ("rec", "rec.hea", "rec.dat"))
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.samples, c.samples)
    assert vqcodec.io.record_paths(tmp_path / "rec.dat") == [tmp_path / "rec.hea", tmp_path / "rec.dat"]


def test_unwritable_fmt_falls_back_to_16(tmp_path: Path) -> None:
    d = make_digital("61")
    (tmp_path / "be.hea").write_text("be 3 360 40\n" + "".join(
        f"be.dat 61 {g}({b})/{u} 16 0 {n}\n" for g, b, u, n in zip(GAINS, BASELINES, UNITS, NAMES)))
    d.astype(">i2").tofile(tmp_path / "be.dat")
    sig = read_wfdb(tmp_path / "be")
    write_wfdb(tmp_path / "le", sig)
    copy = wfdb.rdrecord(str(tmp_path / "le"), physical=False, return_res=64)
    np.testing.assert_array_equal(copy.d_signal, d)
    assert copy.fmt == ["16"] * 3 and copy.sig_name == NAMES and copy.units == UNITS
    assert copy.comments == ["vqcodec: written as fmt 16 (original fmt 61)"]


def test_out_of_range_values_are_clipped_never_invalid(tmp_path: Path) -> None:
    ch = ChannelInfo(name="x", gain=200.0, baseline=0, adc_res=12, fmt="212")
    sig = Signal(samples=np.array([[-100.0], [np.nan], [100.0], [1.0]]), fs=250.0, channels=[ch])
    with pytest.warns(UserWarning, match="2 samples clipped"):
        write_wfdb(tmp_path / "clip", sig)
    d = wfdb.rdrecord(str(tmp_path / "clip"), physical=False, return_res=64).d_signal[:, 0]
    assert d.tolist() == [-2047, -2048, 2047, 200]


def test_duplicate_names_are_renamed(tmp_path: Path) -> None:
    sig = Signal(samples=np.zeros((5, 2)), fs=100.0, channels=[ChannelInfo("ii"), ChannelInfo("ii")])
    write_wfdb(tmp_path / "dup", sig)
    assert wfdb.rdheader(str(tmp_path / "dup")).sig_name == ["ii", "ii_2"]


def test_gain_zero_reads_as_uncalibrated_200(tmp_path: Path) -> None:
    (tmp_path / "g0.hea").write_text("g0 1 100 4\ng0.dat 16 0 16 0\n")
    np.array([0, 200, -200, 400], dtype="<i2").tofile(tmp_path / "g0.dat")
    sig = read_wfdb(tmp_path / "g0")
    assert sig.channels[0].gain == 200.0 and sig.samples[:, 0].tolist() == [0.0, 1.0, -1.0, 2.0]


def test_missing_fs_warns_about_250_hz(tmp_path: Path) -> None:
    (tmp_path / "nofs.hea").write_text("nofs 1\nnofs.dat 16 200 16 0\n")
    np.arange(10, dtype="<i2").tofile(tmp_path / "nofs.dat")
    with pytest.warns(UserWarning, match="no sampling rate"):
        assert read_wfdb(tmp_path / "nofs").fs == 250.0
    assert read_wfdb(tmp_path / "nofs", fs=500.0).fs == 500.0


def test_checksum_mismatch_warns(tmp_path: Path) -> None:
    make_record(tmp_path, "16")
    with open(tmp_path / "rec.dat", "r+b") as f:
        f.seek(6)
        f.write(b"\x01\x00")
    with pytest.warns(UserWarning, match="checksum mismatch"):
        read_wfdb(tmp_path / "rec")


def _corrupt(directory: Path, case: str) -> None:
    if case == "missing dat":
        (directory / "rec.dat").unlink()
    elif case == "short dat":
        os.truncate(directory / "rec.dat", (directory / "rec.dat").stat().st_size - 7)
    elif case == "garbage header":
        (directory / "rec.hea").write_bytes(b"\x00\xffnot a header\n")
    elif case == "zero channels":
        (directory / "rec.hea").write_text("rec 0 360 40\n")
    elif case == "zero samples":
        (directory / "rec.hea").write_text("rec 1 360 0\nrec.dat 16 200 16 0\n")
    elif case == "multi-segment":
        (directory / "rec.hea").write_text("rec/2 3 360 80\nrec 40\nrec 40\n")
    elif case == "multi-rate":
        (directory / "rec.hea").write_text("rec 1 360 20\nrec.dat 212x2 200 12 0 0 0 0 x\n")
    elif case == "skewed":  # a hand-edited header: signal 1 stored 2 samples ahead of the others
        hea = directory / "rec.hea"
        lines = hea.read_text().splitlines()
        lines[2] = lines[2].replace("rec.dat 212 ", "rec.dat 212:2 ", 1)
        hea.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("case, message", [
    ("missing dat", "rec.dat not found"),
    ("short dat", "rec.dat is shorter than the header says"),
    ("garbage header", "cannot parse header rec.hea"),
    ("zero channels", "no signals"),
    ("zero samples", "empty record"),
    ("multi-segment", "multi-segment"),
    ("multi-rate", "multi-rate"),
    ("skewed", r"skewed records are not supported \(signal 1 skew 2\)"),
])
def test_bad_records_raise_one_line_input_error(tmp_path: Path, case: str, message: str) -> None:
    make_record(tmp_path)
    _corrupt(tmp_path, case)
    with pytest.raises(InputError, match=message) as info:
        read_wfdb(tmp_path / "rec")
    assert str(info.value).startswith(f"{tmp_path / 'rec'}: ") and "\n" not in str(info.value)


def _skewed_record(directory: Path, skew: list[int]) -> np.ndarray:
    """A 2-signal fmt-16 record written by wfdb's own writer with per-signal skew; returns what it stored."""
    d = np.stack([np.arange(10), 100 + np.arange(10)], axis=1)
    record = wfdb.Record(record_name="skew", n_sig=2, fs=360, sig_len=10, file_name=["skew.dat"] * 2, fmt=["16"] * 2,
                         adc_gain=[200.0] * 2, baseline=[0, 0], units=["mV"] * 2, sig_name=["a", "b"], d_signal=d,
                         skew=skew, adc_res=[16, 16], adc_zero=[0, 0])
    record.set_d_features()
    record.set_defaults()
    record.wrsamp(write_dir=str(directory))
    return d


def test_wfdb_itself_loses_samples_of_a_skewed_signal(tmp_path: Path) -> None:
    """Why skew is refused: wfdb writes the samples as given, but reads a skewed signal shifted, its first `skew`
    samples dropped and its last ones replaced by the invalid marker (it never reads past sig_len frames)."""
    d = _skewed_record(tmp_path, [0, 3])
    assert "skew.dat 16:3 " in (tmp_path / "skew.hea").read_text()
    read = wfdb.rdrecord(str(tmp_path / "skew"), physical=False, return_res=64).d_signal
    np.testing.assert_array_equal(read[:, 0], d[:, 0])
    np.testing.assert_array_equal(read[:7, 1], d[3:, 1])
    assert (read[7:, 1] == INVALID_SAMPLE_VALUE["16"]).all()


def test_a_skewed_record_is_refused_and_zero_skew_is_read(tmp_path: Path) -> None:
    _skewed_record(tmp_path, [0, 3])
    with pytest.raises(InputError, match=r"skewed records are not supported \(signal 1 skew 3\)") as info:
        vqcodec.io.read(tmp_path / "skew.hea")
    assert str(info.value).startswith(f"{tmp_path / 'skew.hea'}: ") and "\n" not in str(info.value)
    d = _skewed_record(tmp_path, [0, 0])  # written as "16:0": an explicit skew of 0 is no skew
    assert "skew.dat 16:0 " in (tmp_path / "skew.hea").read_text()
    np.testing.assert_array_equal(read_wfdb(tmp_path / "skew").digital(), d)


def test_missing_record_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such record"):
        read_wfdb(tmp_path / "nope")
    with pytest.raises(InputError, match="no such record"):
        vqcodec.io.read(tmp_path / "nope.hea")
    with pytest.raises(InputError, match="is a directory"):
        vqcodec.io.read(tmp_path)


@pytest.mark.parametrize("name, message", [("a.b", "no '.'"), ("x.mid", "no '.'")])
def test_bad_output_name(tmp_path: Path, name: str, message: str) -> None:
    make_record(tmp_path)
    with pytest.raises(InputError, match=message):
        vqcodec.io.write(tmp_path / name, read_wfdb(tmp_path / "rec"))


def test_missing_output_dir(tmp_path: Path) -> None:
    make_record(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        write_wfdb(tmp_path / "no" / "out", read_wfdb(tmp_path / "rec"))


def test_existing_output_untouched_without_force(tmp_path: Path) -> None:
    make_record(tmp_path)
    sig = read_wfdb(tmp_path / "rec")
    sig.comments = ["changed"]
    files = [tmp_path / "rec.hea", tmp_path / "rec.dat"]
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]
    with pytest.raises(OutputExistsError, match="rec.hea: already exists"):
        write_wfdb(tmp_path / "rec", sig)
    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in files] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.dat", "rec.hea"]
    write_wfdb(tmp_path / "rec.hea", sig, force=True)
    assert wfdb.rdheader(str(tmp_path / "rec")).comments == ["changed"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    make_record(tmp_path)
    sig = read_wfdb(tmp_path / "rec")
    (tmp_path / "out").mkdir()

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(wfdb.Record, "wr_dat_files", fail)  # the header is already written by then
    with pytest.raises(VqcError if isinstance(error, Exception) else KeyboardInterrupt):
        write_wfdb(tmp_path / "out" / "new", sig)
    assert list((tmp_path / "out").iterdir()) == []


def test_interrupt_between_moves_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_record(tmp_path)
    sig = read_wfdb(tmp_path / "rec")
    (tmp_path / "out").mkdir()
    real_replace = os.replace

    def replace_once(src: str, dst: str) -> None:
        if str(dst).endswith(".hea"):  # after the .dat is already in place
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_once)
    with pytest.raises(KeyboardInterrupt):
        write_wfdb(tmp_path / "out" / "new", sig)
    assert list((tmp_path / "out").iterdir()) == []


def test_mitdb_100(data_dir: Path, tmp_path: Path) -> None:
    record = data_dir / "ecg" / "mitdb" / "100"
    sig = vqcodec.io.read(record)
    assert sig.samples.shape == (650000, 2) and sig.fs == 360
    assert [(c.fmt, c.gain, c.baseline, c.adc_res) for c in sig.channels] == [("212", 200.0, 1024, 11)] * 2
    assert [c.name for c in sig.channels] == ["MLII", "V5"]
    write_wfdb(tmp_path / "100", sig)
    original = wfdb.rdrecord(str(record), physical=False, return_res=64)
    copy = wfdb.rdrecord(str(tmp_path / "100"), physical=False, return_res=64)
    np.testing.assert_array_equal(copy.d_signal, original.d_signal)
    assert copy.comments == original.comments and copy.checksum == [c % 65536 for c in original.checksum]
    assert vqcodec.io.record_paths(record) == [record.with_suffix(".hea"), record.with_suffix(".dat")]


def test_ludb_1(data_dir: Path) -> None:
    sig = vqcodec.io.read(data_dir / "ecg" / "ludb" / "data" / "1.hea")
    assert sig.n_channels == 12 and sig.fs == 500 and sig.n_samples == 5000
    assert sig.channels[0].name == "i" and sig.channels[0].gain == 1716.0 and sig.comments[0] == "<age>: 51"


@pytest.mark.parametrize("field", ["0", "-360", "1e9", "abc"])
def test_a_sampling_rate_field_that_is_not_a_positive_number_wfdb_reads_is_refused(tmp_path: Path, field: str) -> None:
    (tmp_path / "bad.hea").write_text(f"bad 1 {field} 10\nbad.dat 16 200 16 0\n")
    np.arange(10, dtype="<i2").tofile(tmp_path / "bad.dat")
    with pytest.raises(InputError, match="sampling rate"):
        read_wfdb(tmp_path / "bad")
