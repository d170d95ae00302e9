"""`vqcodec bench` on small synthetic WFDB records (no data needed), plus one real-data excerpt."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import find_peaks

from tests.helpers.signals import make_signal
from vqcodec import io
from vqcodec.bench import ecg as bench
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import InputError

FS = 360.0
SECONDS = 20
EXIT_ERROR = 1
BEAT_HEIGHT_MV = 0.6
"""Synthetic R waves are 1 mV, P and T waves at most 0.3 mV."""


def write_record(folder: Path, name: str, seed: int = 0, seconds: float = SECONDS) -> Path:
    """A 2-lead synthetic WFDB record with an .atr file marking its R peaks as normal beats."""
    import wfdb

    signal = make_signal(round(seconds * FS), channels=2, seed=seed)
    signal.record_name = name
    io.write(folder / name, signal)
    peaks, _ = find_peaks(signal.samples[:, 0], height=BEAT_HEIGHT_MV, distance=round(0.3 * FS))
    wfdb.wrann(name, "atr", peaks, ["N"] * len(peaks), write_dir=str(folder))
    return folder / name


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    write_record(folder, "a", seed=1)
    write_record(folder, "b", seed=2)
    return folder


@pytest.fixture(scope="module")
def baseline_run(data: Path) -> bench.Bench:
    pytest.importorskip("pysz")
    pytest.importorskip("pywt")
    pytest.importorskip("soundfile")
    methods, missing = bench.build_methods(["zstd", "flac", "sz3", "wavelet"])
    assert missing == {}
    records = bench.find_records([data])
    return bench.run(records, methods, keep=("b", "SZ3 eb=4"))


# -- matched quality ------------------------------------------------------------------------------------
def test_cr_at_prdn_interpolates_log_cr_and_is_nan_out_of_range():
    # settings given out of order: (PRDN 9, CR 20), (PRDN 1, CR 5), (PRDN 3, CR 10)
    got = bench.cr_at_prdn([9.0, 1.0, 3.0], [20.0, 5.0, 10.0], [2.0, 8.0, 3.0, 0.5, 12.0])
    assert got[0] == pytest.approx(math.sqrt(5 * 10))  # halfway in PRDN = geometric mean of the CRs
    assert got[1] == pytest.approx(10 * 2 ** (5 / 6))
    assert got[2] == pytest.approx(10.0)
    assert math.isnan(got[3]) and math.isnan(got[4])


def test_cr_at_prdn_leaves_out_dominated_settings():
    # (PRDN 6, CR 8) is beaten by (PRDN 5, CR 12): the curve runs from (2, 4) via (5, 12) to (9, 20)
    got = bench.cr_at_prdn([2.0, 6.0, 5.0, 9.0], [4.0, 8.0, 12.0, 20.0], [6.0, 3.5])
    assert got[0] == pytest.approx(12 * (20 / 12) ** 0.25)
    assert got[1] == pytest.approx(math.sqrt(4 * 12))


def test_cr_at_prdn_without_usable_points_is_all_nan():
    assert all(math.isnan(c) for c in bench.cr_at_prdn([math.nan, 2.0], [4.0, 0.0], [2.0]))


def _row(codec: str, setting: str, record: str, cr: float, prdn: float, max_err: float = 0.1) -> bench.Row:
    bps = 11 / cr
    return bench.Row(codec, setting, False, record, 100.0, cr, bps, bps * FS, prdn / 2, prdn, 20.0, max_err,
                     1e6, 2e6)


def test_means_use_harmonic_cr_and_maximum_error_and_feed_matched():
    rows = [_row("X", "s=1", "r1", 10.0, 2.0, 0.1), _row("X", "s=1", "r2", 5.0, 4.0, 0.3),
            _row("X", "s=2", "r1", 20.0, 6.0), _row("X", "s=2", "r2", 20.0, 10.0)]
    result = bench.Bench(["r1", "r2"], rows, None, None)
    m = bench.means(result)
    assert [r.name for r in m] == ["X s=1", "X s=2"]
    assert m[0].cr == pytest.approx(2 / (1 / 10 + 1 / 5))
    assert m[0].bits_per_sample == pytest.approx(11 / m[0].cr)  # harmonic CR = ADC bits / mean bits per sample
    assert m[0].prdn == pytest.approx(3.0) and m[0].max_err == pytest.approx(0.3)
    (crs,) = bench.matched(m, [3.0, 5.5, 9.0]).values()  # the settings' mean PRDNs are 3 and 8
    assert crs[0] == pytest.approx(m[0].cr)
    assert crs[1] == pytest.approx(math.sqrt(m[0].cr * 20))
    assert math.isnan(crs[2])


# -- beats ----------------------------------------------------------------------------------------------
def test_score_beats_counts_matches_within_150_ms():
    window = math.floor(bench.BEAT_WINDOW_S * FS)  # 54 samples at 360 Hz
    reference = np.array([100, 400, 700, 1000])
    detected = np.array([100 + window, 400 - window, 1000 + window + 1, 1500])
    assert bench.score_beats(reference, detected, FS) == (0.5, 0.5)
    se, ppv = bench.score_beats(reference, np.array([], dtype=np.int64), FS)
    assert se == 0.0 and math.isnan(ppv)


# -- a whole run ----------------------------------------------------------------------------------------
def test_lossless_rows_are_exact_and_lossy_rows_respect_their_bound(baseline_run):
    assert baseline_run.records == ["a", "b"]
    for row in baseline_run.rows:
        assert row.n_bytes > 0 and row.cr > 0 and row.encode_sps > 0 and row.decode_sps > 0
        if row.lossless:
            assert row.prdn == 0 and row.max_err == 0, row.name
        elif row.codec == "SZ3":
            bound = float(row.setting.removeprefix("eb="))
            assert 0 < row.max_err <= bound / 200 + 1e-12, row.name  # make_signal: 200 adu/mV


def test_beats_are_scored_for_the_original_and_each_lossy_reconstruction(baseline_run):
    for se, ppv in baseline_run.original_beats.values():
        assert se >= 0.95 and ppv >= 0.95
    lossy = [r for r in baseline_run.rows if not r.lossless]
    assert lossy and all(0 <= r.sensitivity <= 1 and 0 <= r.ppv <= 1 for r in lossy)
    assert all(math.isnan(r.sensitivity) for r in baseline_run.rows if r.lossless)
    table = bench.beat_means(baseline_run)
    assert table[0][0] == "original" and len(table) == 1 + len({r.name for r in lossy})


def test_markdown_has_every_section_and_a_row_per_method_and_record(baseline_run):
    text = bench.markdown(baseline_run)
    for title in ("## Mean over 2 records", "## CR at matched PRDN", "## Beat fidelity", "## Per record"):
        assert title in text
    for name in baseline_run.methods():
        assert text.count(f"| {name} | mean |") == 1
        assert text.count(f"| {name} | a |") == 1 and text.count(f"| {name} | b |") == 1
    assert "| SZ3 |" in text and "| wavelet |" in text


def test_json_is_strict_and_holds_every_row(baseline_run):
    doc = json.loads(bench.to_json(baseline_run, "vqcodec bench x"), parse_constant=pytest.fail)
    assert doc["command"] == "vqcodec bench x"
    assert len(doc["rows"]) == len(baseline_run.rows)
    assert len(doc["mean"]) == len(baseline_run.methods())
    assert set(doc["matched_prdn"]["cr"]) == {"SZ3", "wavelet"}
    assert doc["rows"][0]["snr"] is None  # a lossless row: SNR is infinite
    assert set(doc["beats"]["original"]) == {"a", "b"}


def test_missing_baseline_is_reported_not_fatal(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "pysz", None)
    methods, missing = bench.build_methods(["zstd", "sz3"])
    assert set(missing) == {"sz3"} and "pysz" in missing["sz3"]
    assert {m.codec for m in methods} == {"zstd"}
    result = bench.run(bench.find_records([data / "a"]), methods, seconds=2, beats=False, missing=missing)
    assert "Skipped: sz3: needs pysz" in bench.markdown(result)
    with pytest.raises(InputError, match="nothing to bench"):
        bench.build_methods(["sz3"])


def test_a_record_a_baseline_cannot_code_is_skipped_and_said(tmp_path):
    pytest.importorskip("pywt")
    wide = Signal(np.linspace(-300, 300, 2000)[:, None], FS, [ChannelInfo("x", "mV", 200.0, 0, 24, 0, "24")], "w")
    io.write(tmp_path / "w", wide)  # +-60000 adu: beyond int16
    methods, _ = bench.build_methods(["zstd"])
    methods += [m for m in bench.build_methods(["wavelet"])[0] if m.setting == "step=2"]
    result = bench.run([tmp_path / "w"], methods, beats=False)
    assert [r.name for r in result.rows] == ["wavelet step=2"]
    assert "Skipped: zstd -3 on w: zstd codes 16-bit samples" in bench.markdown(result)


def test_unknown_method_is_refused():
    with pytest.raises(InputError, match="unknown zip"):
        bench.build_methods(["zstd", "zip"])


def test_vqcodec_rows_count_real_vqc_bytes(tiny_bundle, data):
    codec = Codec.load(tiny_bundle)
    methods, _ = bench.build_methods(["vqcodec"], codec, max_errors=(0, 3))
    assert [m.name for m in methods] == [f"vqcodec q={q}" for q in codec.qualities] + [
        "vqcodec --max-error E=0", "vqcodec --max-error E=3"]
    result = bench.run(bench.find_records([data / "a"]), methods, seconds=4, beats=False)
    signal = bench.load(data / "a", 4)
    for row, q in zip(result.rows, codec.qualities):
        assert row.n_bytes == len(codec.compress(signal, q)[0])
        assert row.prdn > 0 and row.cr > 0
    lossless, bounded = result.rows[-2:]
    assert lossless.lossless and lossless.max_err == 0
    assert lossless.n_bytes == len(codec.compress(signal, max_error=0)[0])
    gain = min(c.gain for c in signal.channels)
    assert not bounded.lossless and 0 < bounded.max_err <= 3 / gain + 1e-12
    assert bench.overlay_target(methods, [data / "a"], codec) == ("a", f"vqcodec q={codec.default_quality}")


# -- inputs and outputs ---------------------------------------------------------------------------------
def test_split_file_keeps_the_split_in_its_order(data, tmp_path):
    splits = tmp_path / "SPLITS.json"
    splits.write_text(json.dumps({"test": ["b", "a"], "val": ["zz"]}))
    assert [p.name for p in bench.find_records([data], splits, "test")] == ["b", "a"]
    with pytest.raises(InputError, match="zz"):
        bench.find_records([data], splits, "val")
    with pytest.raises(InputError, match="no split 'train'"):
        bench.find_records([data], splits, "train")


def test_outputs_inside_the_data_folder_are_refused(data, tmp_path):
    records = bench.find_records([data])
    with pytest.raises(InputError, match="data folder"):
        bench.check_output(data / "out.json", records)
    with pytest.raises(InputError, match="data folder"):
        bench.check_output(data, records)
    bench.check_output(tmp_path / "out.json", records)  # elsewhere is fine


def test_plots_are_written(baseline_run, tmp_path):
    pytest.importorskip("matplotlib")
    written = bench.write_plots(baseline_run, tmp_path / "figs", window=(1.0, 5.0))
    assert [p.name for p in written] == ["rate_distortion.png", "overlay_b_SZ3-eb-4.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written)


@pytest.mark.slow
def test_cli_prints_markdown_writes_json_and_never_writes_into_the_data(data, tmp_path):
    def cli(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vqcodec", "bench", *map(str, args)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)

    pytest.importorskip("matplotlib")
    before = sorted(p.name for p in data.iterdir())
    out, figs = tmp_path / "out.json", tmp_path / "figs"
    proc = cli(data, "--methods", "zstd,flac", "--seconds", "3", "--json", out, "--plot", figs,
               "--overlay-record", "b", "--overlay-method", "FLAC -8")
    assert proc.returncode == 0, proc.stderr
    assert "| FLAC -8 | mean |" in proc.stdout and "[2/2] b" in proc.stderr
    assert json.loads(out.read_text())["command"].startswith("vqcodec bench ")
    assert sorted(p.name for p in figs.iterdir()) == ["overlay_b_FLAC--8.png", "rate_distortion.png"]
    bad = cli(data, "--methods", "zstd", "--json", data / "out.json")
    assert bad.returncode == EXIT_ERROR and "refusing to write into the data folder" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in data.iterdir()) == before


def test_real_excerpt(data_dir, tmp_path):
    """The first 20 s of test record 103: baselines round-trip, and gqrs finds the annotated beats."""
    pytest.importorskip("pysz")
    pytest.importorskip("pywt")
    pytest.importorskip("soundfile")
    record = data_dir / "ecg" / "mitdb" / "103"
    methods, _ = bench.build_methods(["zstd", "flac", "sz3", "wavelet"])
    result = bench.run([record], methods, seconds=SECONDS)
    rows = {r.name: r for r in result.rows}
    flac = rows["FLAC -8"]
    assert flac.prdn == 0 and 3.0 < flac.bits_per_sample < 5.0  # lossless ECG: about 4 bits/sample
    assert rows["FLAC -8"].bits_per_sample < rows["zstd -19"].bits_per_sample
    assert rows["SZ3 eb=1"].max_err <= 1 / 200 + 1e-12  # 200 adu/mV
    wavelet = [r for r in result.rows if r.codec == "wavelet"]
    assert [r.prdn for r in wavelet] == sorted(r.prdn for r in wavelet)
    se, ppv = result.original_beats["103"]
    assert se >= 0.95 and ppv >= 0.95


def test_rate_controlled_vqcodec_is_benched_only_when_asked(tiny_bundle):
    codec = Codec.load(tiny_bundle)
    names = [m.name for m in bench.build_methods(["vqcodec"], codec, max_errors=(), max_prdns=(5, 2.5))[0]]
    assert names[-2:] == ["vqcodec --max-prdn P=5", "vqcodec --max-prdn P=2.5"]
    assert not any("max-prdn" in m.name for m in bench.build_methods(["vqcodec"], codec)[0])
