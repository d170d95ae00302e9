"""Long records in windows (vqcodec.ecg.stream): the same bytes and samples as the whole record in memory, whatever
the window; the resampler, the filling of invalid runs and the distortion sums each equal their whole-array form."""

from __future__ import annotations

import filecmp
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.processes import run_on_a_terminal
from tests.helpers.signals import make_signal
from vqcodec.coding import residual
from vqcodec.ecg import codec as codec_module
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg import stream
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.conditioning import fill_invalid, resample
from vqcodec.io.wfdb import WfdbSource, WfdbWriter, read_wfdb, write_wfdb
from vqcodec.metrics import channel_distortion


@pytest.mark.parametrize("fs_from, fs_to", [(250.0, 360.0), (500.0, 360.0), (1000.0, 360.0), (360.0, 128.0),
                                            (360.0, 360.0)])
def test_a_window_of_the_resampler_is_the_whole_arrays(fs_from: float, fs_to: float) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20011, 2)).cumsum(axis=0)
    length = len(resample(x, fs_from, fs_to)) + 5  # past the natural end: edge-padded, as resample() pads
    whole = resample(x, fs_from, fs_to, length)
    r = stream.Resampled(lambda a, b: x[a:b], len(x), fs_from, fs_to, length)
    for a, b in [(0, 50), (0, length), (1000, 4000), (length - 70, length), (7, 8), (length - 1, length)]:
        np.testing.assert_array_equal(r.read(a, b), whole[a:b])


def test_invalid_runs_are_filled_as_the_whole_record_fills_them() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50000, 3))
    x[:700, 0] = np.nan  # from the start: held
    x[10000:30000, 0] = np.nan  # across many windows
    x[49000:, 1] = np.nan  # to the end: held
    x[:, 2] = np.nan  # never valid: zeros
    whole = np.stack([fill_invalid(x[:, c]) for c in range(3)], axis=1)
    source = stream.SignalSource(make_signal(len(x), channels=3))
    source.signal.samples[:] = x
    filled = stream.Filled(source)
    for a in range(0, len(x), 4096):
        np.testing.assert_array_equal(filled.read(a, min(len(x), a + 4096)), whole[a : a + 4096])


def test_the_distortion_sums_give_the_whole_arrays_figures() -> None:
    sig = make_signal(200000, channels=1, seed=4)
    y = sig.samples + np.random.default_rng(1).normal(0, 0.01, sig.samples.shape)
    sig.samples[500:900, 0] = np.nan
    sums, runs = stream.measure(stream.SignalSource(sig), iter([(0, y, 0)]))
    got = sums.channel_reports(sig.channels)[0]
    want = channel_distortion("ch0", sig.samples[:, 0], y[:, 0])
    for key in ("prd", "prdn", "snr", "rmse", "max_err"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-9)
    assert runs.tolist() == [[0, 500, 400]]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoder and decoder chunks small enough that a short record spans many, and windows cut through them."""
    monkeypatch.setattr(codec_module, "ENCODE_CHUNK", 1024)
    monkeypatch.setattr(codec_module, "DECODE_CHUNK", 96)


@pytest.mark.parametrize("fs", [360.0, 500.0, 250.0])
def test_windows_give_the_bytes_of_the_whole_record_whatever_their_size(codec: Codec, small_chunks: None,
                                                                        fs: float) -> None:
    sig = make_signal(int(codec.block_samples * 2.6 * fs / codec.fs), channels=2, fs=fs, seed=6)
    sig.samples[2000:2600, 0] = np.nan
    sig.samples[5000:5010, 1] = np.nan
    whole = codec.compress(sig, 3).data
    for window in (256, 1024, None):
        got = codec.compress_source(stream.SignalSource(sig), 3, window=window)
        assert got.data == whole, window
    f = vqcodec.container.format.loads(whole)
    decoded = codec.decompress(whole).samples
    for window in (1, 5000, None):
        parts = np.concatenate(list(codec.decode_windows(f, window=window)))
        np.testing.assert_array_equal(parts, decoded)


def test_a_wfdb_record_read_in_windows_compresses_and_decodes_to_the_whole_ones_files(
        codec: Codec, small_chunks: None, tmp_path: Path) -> None:
    sig = replace(make_signal(codec.block_samples * 2 + 333, channels=2, seed=9), record_name="rec")
    sig.samples[100:200, 1] = np.nan
    write_wfdb(tmp_path / "rec", sig)
    on_disk = read_wfdb(tmp_path / "rec")
    data = codec.compress_source(WfdbSource(tmp_path / "rec"), window=256).data
    assert data == codec.compress(on_disk).data
    whole = codec.decompress(data)
    write_wfdb(tmp_path / "whole", whole)
    writer = WfdbWriter(tmp_path / "windows", whole)
    for y in codec.decode_windows(vqcodec.container.format.loads(data), window=1000):
        writer.write(y)
    writer.close()
    assert filecmp.cmp(tmp_path / "whole.dat", tmp_path / "windows.dat", shallow=False)
    header = [(tmp_path / f"{n}.hea").read_text().replace(n, "NAME") for n in ("whole", "windows")]
    assert header[0] == header[1]


def test_a_damaged_decode_leaves_no_partial_record(codec: Codec, tmp_path: Path) -> None:
    sig = make_signal(codec.block_samples + 100, channels=1)
    writer = WfdbWriter(tmp_path / "out", sig)
    writer.write(sig.samples[:100])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_the_cli_compresses_and_decodes_in_windows_to_the_whole_ones_files(cli, tiny_bundle: Path,
                                                                           tmp_path: Path) -> None:
    sig = replace(make_signal(20000, channels=2, seed=2), record_name="rec")
    write_wfdb(tmp_path / "rec", sig)
    codec = Codec.load(tiny_bundle)
    assert cli("compress", tmp_path / "rec", "-m", tiny_bundle, "-o", tmp_path / "rec.vqc").code == 0
    data = (tmp_path / "rec.vqc").read_bytes()
    original_bytes = sum(p.stat().st_size for p in (tmp_path / "rec.hea", tmp_path / "rec.dat"))
    assert data == codec.compress(read_wfdb(tmp_path / "rec"), None, original_bytes).data
    assert cli("decompress", tmp_path / "rec.vqc", "-m", tiny_bundle, "-o", tmp_path / "out" / "rec").code == 0
    write_wfdb(tmp_path / "whole", codec.decompress(data))
    assert filecmp.cmp(tmp_path / "whole.dat", tmp_path / "out" / "rec.dat", shallow=False)


def test_one_long_record_shows_its_progress_on_a_terminal_and_not_in_a_pipe(cli, tiny_bundle: Path,
                                                                              tmp_path: Path) -> None:
    write_wfdb(tmp_path / "rec", replace(make_signal(30000, channels=2, seed=3), record_name="rec"))
    code, shown = run_on_a_terminal("compress", tmp_path / "rec", "-m", tiny_bundle, "-o", tmp_path / "rec.vqc")
    assert code == 0 and "%|" in shown and "rec.vqc: CR" in shown, shown
    code, shown = run_on_a_terminal("decompress", tmp_path / "rec.vqc", "-m", tiny_bundle, "-o", tmp_path / "o" / "r")
    assert code == 0 and "%|" in shown and "wrote" in shown, shown
    piped = cli("decompress", tmp_path / "rec.vqc", "-m", tiny_bundle, "-o", tmp_path / "p" / "r")
    assert piped.code == 0 and "%|" not in piped.stderr


def test_a_npy_array_read_through_a_memory_map_compresses_to_the_whole_arrays_bytes(
        codec: Codec, small_chunks: None, tmp_path: Path) -> None:
    from vqcodec.io.array import NpySource, read_array

    sig = make_signal(codec.block_samples * 2 + 77, channels=2, seed=4)
    np.save(tmp_path / "rec.npy", sig.samples)
    whole = codec.compress(read_array(tmp_path / "rec.npy", fs=codec.fs)).data
    assert codec.compress_source(NpySource(tmp_path / "rec.npy", fs=codec.fs), window=300).data == whole


@pytest.mark.parametrize("answer", ["a level", "lossless"])
def test_the_cli_picks_a_max_prdn_setting_in_windows_and_writes_the_whole_ones_file(cli, tiny_bundle: Path,
                                                                                    tmp_path: Path,
                                                                                    answer: str) -> None:
    sig = replace(make_signal(20000, channels=2, seed=5), record_name="rec")
    write_wfdb(tmp_path / "rec", sig)
    codec = Codec.load(tiny_bundle)
    on_disk = read_wfdb(tmp_path / "rec")
    target = codec.compress(on_disk, 2).report.worst_prdn if answer == "a level" else 1e-9
    r = cli("compress", tmp_path / "rec", "-m", tiny_bundle, "-o", tmp_path / "rec.vqc", "--max-prdn", repr(target))
    assert r.code == 0, r.stderr
    original_bytes = sum(p.stat().st_size for p in (tmp_path / "rec.hea", tmp_path / "rec.dat"))
    want = codec.compress_to_prdn(on_disk, target, original_bytes)
    assert f"[{want.setting}]" in r.stderr and want.setting.startswith("quality" if answer == "a level" else "lossless")
    header = (tmp_path / "rec.hea").read_bytes()
    assert (tmp_path / "rec.vqc").read_bytes() == ecg_file.with_record_files(want.data, {}, header)


def test_the_cli_codes_a_record_with_a_signal_the_model_does_not_take_to_max_prdn_in_windows_as_the_whole_one(
        cli, tiny_bundle: Path, tmp_path: Path) -> None:
    """Aux signals are coded aux block by aux block (AUXB), lossless whatever the setting of the leads, so such a
    record is read in windows, to the file the whole record gives."""
    sig = replace(make_signal(20000, channels=2, seed=6), record_name="rec")
    sig.channels[1] = replace(sig.channels[1], name="ABP", units="mmHg")
    write_wfdb(tmp_path / "rec", sig)
    codec = Codec.load(tiny_bundle)
    r = cli("compress", tmp_path / "rec", "-m", tiny_bundle, "-o", tmp_path / "rec.vqc", "--max-prdn", "1000")
    assert r.code == 0 and "without the model" in r.stderr, r.stderr
    original_bytes = sum(p.stat().st_size for p in (tmp_path / "rec.hea", tmp_path / "rec.dat"))
    want = codec.compress_to_prdn(read_wfdb(tmp_path / "rec"), 1000, original_bytes)
    assert (tmp_path / "rec.vqc").read_bytes() == want.data


@pytest.fixture
def small_residual_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Residual blocks short enough that a short record holds several, the last one shorter."""
    monkeypatch.setattr(ecg_file, "RESIDUAL_BLOCK_SAMPLES", 3 * residual.LANE_SAMPLES)


@pytest.mark.parametrize("max_error, fs", [(0, 360.0), (2, 360.0), (5, 360.0), (5, 250.0)])
def test_the_residual_layer_in_windows_gives_the_whole_records_bytes(codec: Codec, small_chunks: None,
                                                                     small_residual_blocks: None, max_error: int,
                                                                     fs: float) -> None:
    sig = make_signal(int(codec.block_samples * 2.3 * fs / codec.fs), channels=2, fs=fs, seed=8)
    sig.samples[2000:2600, 0] = np.nan
    sig.samples[-50:, 1] = np.nan
    whole = codec.compress(sig, 3, max_error=max_error).data
    for window in (256, None):
        assert codec.compress_source(stream.SignalSource(sig), 3, window=window, max_error=max_error).data == whole
    f = ecg_file.loads(whole)
    assert f.residual is None and f.residual_blocks is not None and len(f.residual_blocks) >= 2
    assert f.meta.residual_block == 3 * residual.LANE_SAMPLES
    assert int.from_bytes(whole[10:12], "little") == ecg_file.RESIDUAL_BLOCKS_MINOR
    assert codec.streams(f)
    decoded = codec.decompress(whole)
    assert np.nanmax(np.abs(decoded.samples - sig.samples) * sig.channels[0].gain) <= max_error + 1e-9
    parts = np.concatenate(list(codec.decode_windows(f)))
    np.testing.assert_array_equal(parts, decoded.samples)
    for a, b in [(0, 10), (5000, 11000), (len(sig.samples) - 300, len(sig.samples)), (7000, 7000)]:
        np.testing.assert_array_equal(codec.decompress(whole, start=a, stop=b).samples, decoded.samples[a:b])


@pytest.mark.parametrize("flag", [["--lossless"], ["--max-error", "5"]])
def test_the_cli_codes_the_residual_layer_in_windows_to_the_whole_ones_files(cli, tiny_bundle: Path, tmp_path: Path,
                                                                            flag: list[str]) -> None:
    """compress --lossless / --max-error E (in windows) writes the file the whole record gives in memory; decompress
    (in windows) gives a lossless one back with the original header, byte for byte. (That the CLI holds windows,
    not the record, the peak memory of a long record shows: CHANGELOG.)"""
    sig = replace(make_signal(20000, channels=2, seed=4), record_name="rec")
    write_wfdb(tmp_path / "rec", sig)
    codec = Codec.load(tiny_bundle)
    assert cli("compress", tmp_path / "rec", "-m", tiny_bundle, "-o", tmp_path / "rec.vqc", *flag).code == 0
    data = (tmp_path / "rec.vqc").read_bytes()
    original_bytes = sum(p.stat().st_size for p in (tmp_path / "rec.hea", tmp_path / "rec.dat"))
    e = 0 if flag == ["--lossless"] else 5
    want = codec.compress(read_wfdb(tmp_path / "rec"), None, original_bytes, max_error=e).data
    if e == 0:
        want = ecg_file.with_record_files(want, {}, (tmp_path / "rec.hea").read_bytes())
    assert data == want
    assert cli("decompress", tmp_path / "rec.vqc", "-m", tiny_bundle, "-o", tmp_path / "out" / "rec").code == 0
    assert filecmp.cmp(tmp_path / "rec.dat", tmp_path / "out" / "rec.dat", shallow=False) == (e == 0)
    if e == 0:
        assert filecmp.cmp(tmp_path / "rec.hea", tmp_path / "out" / "rec.hea", shallow=False)
